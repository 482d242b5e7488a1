namespace Millrace.Client.Auth;

/// <summary>The SDK's default order: environment variables, then the shared credentials/config files.</summary>
public static class DefaultCredentialsChain
{
    public static IAwsCredentialsProvider Create(string? profile) => new EnvironmentCredentialsProvider();
}

/// <summary>AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.</summary>
public sealed class EnvironmentCredentialsProvider : IAwsCredentialsProvider
{
    public ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken)
    {
        var id = Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID");
        var secret = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(secret))
            throw new InvalidOperationException("no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set");
        return ValueTask.FromResult(new AwsCredentials(id, secret, Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN")));
    }
}

/// <summary>Region from the environment or the profile.</summary>
public static class AwsRegion
{
    public static string? Resolve(string? profile) =>
        Environment.GetEnvironmentVariable("AWS_REGION") is { Length: > 0 } r ? r
        : Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") is { Length: > 0 } d ? d
        : null;
}
