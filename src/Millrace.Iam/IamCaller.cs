using Millrace.Protocol;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;

namespace Millrace.Iam;

/// <summary>Who called an IAM or STS operation.</summary>
internal static class IamCaller
{
    /// <summary>
    /// The verified caller (--auth sigv4); with --auth none the principal of the access key the request names, when
    /// Millrace knows it, else the account's root (any credentials act as root when signatures are not checked).
    /// </summary>
    public static async Task<CallerIdentity> ResolveAsync(IdentityDirectory directory, OperationContext context)
    {
        if (context.Request.Caller is { } verified)
        {
            return verified;
        }

        string? accessKeyId = null;
        try
        {
            accessKeyId = SigV4Authorization.Parse(context.Request.Header("Authorization"),
                name => context.Request.Query.FirstOrDefault(q => q.Key == name).Value,
                context.Request.Header("X-Amz-Date"), context.Request.Header("Date")).AccessKeyId;
        }
        catch (KinesisException)
        {
            // Unsigned: the root.
        }

        if (accessKeyId is not null && await directory.FindAsync(accessKeyId, context.Cancellation) is { } key)
        {
            return key.Caller;
        }

        return directory.Root(accessKeyId ?? "");
    }
}
