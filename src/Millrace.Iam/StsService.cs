using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Iam.Policies;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;

namespace Millrace.Iam;

/// <summary>
/// The STS subset on the one endpoint: GetCallerIdentity, and AssumeRole, which checks the role's trust policy (and,
/// where the trust names only the account, the caller's own policies) and issues temporary credentials (ASIA… key,
/// secret, session token, expiry) that the front door accepts until they expire.
/// </summary>
public sealed class StsService
{
    private readonly IdentityDirectory _directory;
    private readonly Func<CallerIdentity, string, string, CancellationToken, Task<bool>> _identityAllows;

    /// <param name="directory">The account's identities.</param>
    /// <param name="identityAllows">Whether the caller's identity-based policies allow an action on a resource
    /// (the authorizer's evaluation), for trust policies that delegate to the account.</param>
    public StsService(IdentityDirectory directory, Func<CallerIdentity, string, string, CancellationToken, Task<bool>> identityAllows)
    {
        _directory = directory;
        _identityAllows = identityAllows;
        Endpoint = new ModelService("sts")
            .OnAsync("GetCallerIdentity", GetCallerIdentityAsync)
            .OnAsync("AssumeRole", AssumeRoleAsync);
    }

    public ModelService Endpoint { get; }

    private async Task<JsonObject?> GetCallerIdentityAsync(JsonObject input, OperationContext context)
    {
        var caller = await IamCaller.ResolveAsync(_directory, context);
        return new JsonObject { ["UserId"] = caller.UserId, ["Account"] = caller.Account, ["Arn"] = caller.Arn };
    }

    private async Task<JsonObject?> AssumeRoleAsync(JsonObject input, OperationContext context)
    {
        var caller = await IamCaller.ResolveAsync(_directory, context);
        var roleArn = (string)input["RoleArn"]!;
        var sessionName = (string)input["RoleSessionName"]!;
        var denied = new ServiceException("AccessDenied", $"User: {caller.Arn} is not authorized to perform: sts:AssumeRole on resource: {roleArn}", 403);
        var prefix = $"arn:aws:iam::{_directory.AccountId}:role/";
        if (!roleArn.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw denied;
        }

        var roleName = roleArn[(roleArn.LastIndexOf('/') + 1)..];
        var roleEntity = await _directory.Store.GetAsync(IdentityDirectory.Role, "", roleName, context.Cancellation) ?? throw denied;
        var role = JsonNode.Parse(roleEntity.Document)!.AsObject();
        if (_directory.RoleArn(roleName, (string)role["Path"]!) != roleArn)
        {
            throw denied;
        }

        // Signatures checked (--auth sigv4): the trust policy decides, as in AWS; root may not assume roles there.
        if (context.Request.Caller is not null)
        {
            if (caller.Kind == PrincipalKind.Root)
            {
                throw new ServiceException("AccessDenied", "Roles may not be assumed by root accounts.", 403);
            }

            var request = new AuthorizationRequest("sts:AssumeRole", roleArn, caller, RequestKeys.Of(caller, context.Request.Facts));
            var trust = PolicyEvaluator.TrustOf(PolicyDocument.Parse((string)role["AssumeRolePolicyDocument"]!), request);
            bool allowed = trust == Trust.Principal
                || (trust == Trust.Account && await _identityAllows(caller, "sts:AssumeRole", roleArn, context.Cancellation));
            if (!allowed)
            {
                throw denied;
            }
        }

        var maxDuration = (int)role["MaxSessionDuration"]!;
        var duration = (int?)ModelDocument.GetInt64(input["DurationSeconds"]) ?? 3600;
        if (duration > maxDuration)
        {
            throw new ServiceException("ValidationError",
                $"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400);
        }

        if ((string?)input["Policy"] is { } sessionPolicy)
        {
            try
            {
                PolicyDocument.Parse(sessionPolicy);
            }
            catch (PolicySyntaxException e)
            {
                throw new ServiceException("MalformedPolicyDocument", e.Message, 400);
            }
        }

        var session = await _directory.IssueRoleSessionAsync(roleName, sessionName, TimeSpan.FromSeconds(duration), (string?)input["Policy"], context.Cancellation)
            ?? throw denied;
        return new JsonObject
        {
            ["Credentials"] = new JsonObject
            {
                ["AccessKeyId"] = session.AccessKeyId,
                ["SecretAccessKey"] = session.SecretAccessKey,
                ["SessionToken"] = session.SessionToken,
                ["Expiration"] = session.Expiration,
            },
            ["AssumedRoleUser"] = new JsonObject { ["AssumedRoleId"] = session.AssumedRoleId, ["Arn"] = session.Arn },
            ["PackedPolicySize"] = 0,
        };
    }
}
