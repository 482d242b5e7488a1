using System.Text;
using Millrace.Gateway.Authentication;

namespace Millrace.S3;

/// <summary>
/// Bucket policies (PutBucketPolicy) for the front door's authorizer. Whether any bucket has one is re-read at most
/// once a second (PutBucketPolicy sets it at once): it only lets root requests skip parsing when no policy could deny them.
/// </summary>
public sealed partial class S3Service : IResourcePolicies
{
    private (bool Any, long CheckedMs) _anyPolicy = (false, long.MinValue);

    string IResourcePolicies.Service => "s3";

    async ValueTask<bool> IResourcePolicies.AnyAsync(CancellationToken cancellationToken)
    {
        var now = options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var cached = _anyPolicy;
        if (now - cached.CheckedMs < 1000)
        {
            return cached.Any;
        }

        bool any = false;
        foreach (var bucket in await store.ListBucketsAsync(cancellationToken))
        {
            if (await store.GetBucketConfigAsync(bucket.Name, BucketConfigPolicy, cancellationToken) is not null)
            {
                any = true;
                break;
            }
        }

        _anyPolicy = (any, now);
        return any;
    }

    /// <summary>The policy of the bucket an <c>arn:aws:s3:::bucket</c> ARN names.</summary>
    async ValueTask<string?> IResourcePolicies.GetAsync(string resourceArn, CancellationToken cancellationToken)
    {
        const string Prefix = "arn:aws:s3:::";
        if (!resourceArn.StartsWith(Prefix, StringComparison.Ordinal) || resourceArn.Length == Prefix.Length)
        {
            return null;
        }

        try
        {
            var bytes = await store.GetBucketConfigAsync(resourceArn[Prefix.Length..], BucketConfigPolicy, cancellationToken);
            return bytes is null ? null : Encoding.UTF8.GetString(bytes);
        }
        catch (Millrace.Storage.Objects.NoSuchBucketException)
        {
            return null;
        }
    }
}
