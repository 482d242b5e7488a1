namespace Millrace.Client.Auth;

/// <summary>An access key pair, with the session token of temporary credentials.</summary>
public sealed record AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken = null)
{
    public override string ToString() => $"AwsCredentials({AccessKeyId}, ****)";
}

/// <summary>Where credentials come from (environment, shared files, a fixed pair). Called before every signing,
/// so a provider may refresh.</summary>
public interface IAwsCredentialsProvider
{
    ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken);
}

/// <summary>A fixed key pair.</summary>
public sealed class StaticCredentialsProvider(AwsCredentials credentials) : IAwsCredentialsProvider
{
    public ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken) => ValueTask.FromResult(credentials);
}
