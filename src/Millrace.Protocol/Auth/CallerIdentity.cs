namespace Millrace.Protocol.Auth;

/// <summary>What kind of principal signed a request.</summary>
public enum PrincipalKind
{
    /// <summary>The account's root user.</summary>
    Root,

    /// <summary>An IAM user.</summary>
    User,

    /// <summary>A role session from STS AssumeRole.</summary>
    AssumedRole,
}

/// <summary>
/// The principal a verified request came from, as GetCallerIdentity reports it: the account, the principal's ARN
/// (<c>arn:aws:iam::acct:root</c>, <c>…:user/name</c>, <c>arn:aws:sts::acct:assumed-role/role/session</c>), its
/// unique id and the access key that signed. <see cref="Name"/> is the user or role name (empty for root).
/// </summary>
public sealed record CallerIdentity(PrincipalKind Kind, string Account, string Arn, string UserId, string AccessKeyId, string Name)
{
    /// <summary>The role's ARN for an assumed-role session (what policies and trust refer to); otherwise <see cref="Arn"/>.</summary>
    public string? RoleArn { get; init; }
}

/// <summary>An access key as the verifier needs it: its secret, its principal, and for temporary credentials the
/// session token and expiry. <see cref="Active"/> false is an access key UpdateAccessKey set Inactive.</summary>
public sealed record SigningKey(string AccessKeyId, string SecretAccessKey, CallerIdentity Caller, bool Active = true,
    string? SessionToken = null, DateTimeOffset? Expiration = null);

/// <summary>Where the verifier looks up access keys (Millrace's IAM and STS).</summary>
public interface IAccessKeys
{
    /// <summary>The key, or null when no such access key exists.</summary>
    ValueTask<SigningKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken = default);
}

/// <summary>What the front door knows of a verified request besides its caller, for policy conditions: the client's
/// address (aws:SourceIp), whether it came over TLS (aws:SecureTransport), the signed region (aws:RequestedRegion)
/// and when it arrived (aws:CurrentTime).</summary>
public sealed record RequestFacts(string SourceIp, bool SecureTransport, string Region, DateTimeOffset Time);
