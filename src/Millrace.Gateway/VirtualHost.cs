namespace Millrace.Gateway;

/// <summary>Virtual-hosted-style S3 addressing: the bucket is the first label of the Host.</summary>
public static class VirtualHost
{
    /// <summary>
    /// The bucket of <c>bucket.s3.&lt;anything&gt;</c>, <c>bucket.s3-&lt;region&gt;.&lt;anything&gt;</c> or
    /// <c>bucket.localhost</c>; null for path-style hosts (an IP address, <c>localhost</c>, <c>s3.…</c>).
    /// </summary>
    public static string? BucketOf(string host)
    {
        if (host.Length == 0 || char.IsAsciiDigit(host[^1]) || host[0] == '[')
        {
            return null; // an IPv4 or IPv6 literal
        }

        int s3 = host.IndexOf(".s3.", StringComparison.OrdinalIgnoreCase);
        if (s3 < 0)
        {
            s3 = host.IndexOf(".s3-", StringComparison.OrdinalIgnoreCase);
        }

        if (s3 < 0 && host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            s3 = host.Length - ".localhost".Length;
        }

        return s3 > 0 ? host[..s3] : null;
    }
}
