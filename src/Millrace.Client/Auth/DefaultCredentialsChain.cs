namespace Millrace.Client.Auth;

/// <summary>The SDK's default order: environment variables, then the shared credentials and config files.</summary>
public static class DefaultCredentialsChain
{
    /// <param name="profile">An explicit profile (AwsClientOptions.Profile). As with the AWS CLI's --profile, an
    /// explicit profile wins over the environment's key pair; without it the environment comes first and the
    /// profile is AWS_PROFILE or "default".</param>
    /// <param name="environment">Environment lookup (default: the process environment).</param>
    public static IAwsCredentialsProvider Create(string? profile, Func<string, string?>? environment = null) =>
        new DefaultCredentialsProvider(profile, environment);
}

/// <summary>Environment variables, then the profile of the shared files; the first source found is kept (static
/// credentials do not change while the process runs).</summary>
public sealed class DefaultCredentialsProvider(string? profile, Func<string, string?>? environment = null) : IAwsCredentialsProvider
{
    private readonly Func<string, string?> _environment = environment ?? Environment.GetEnvironmentVariable;
    private AwsCredentials? _resolved;

    public ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(_resolved ??= Resolve());

    private AwsCredentials Resolve()
    {
        var explicitProfile = profile is { Length: > 0 };
        if (!explicitProfile && EnvironmentCredentialsProvider.TryRead(_environment) is { } fromEnvironment)
            return fromEnvironment;
        var files = SharedConfigFiles.Load(_environment);
        var name = SharedConfigFiles.ProfileName(profile, _environment);
        if (files.GetCredentials(name) is { } fromFiles)
            return fromFiles;
        var why = !files.HasProfile(name)
            ? $"profile '{name}' is not in {files.CredentialsPath} or {files.ConfigPath}"
            : files.Get(name, "role_arn") is not null || files.Get(name, "sso_session") is not null || files.Get(name, "sso_start_url") is not null
                || files.Get(name, "credential_process") is not null
                ? $"profile '{name}' uses role, SSO or credential_process settings, which this client does not support (give it aws_access_key_id/aws_secret_access_key)"
                : $"profile '{name}' has no aws_access_key_id/aws_secret_access_key in {files.CredentialsPath} or {files.ConfigPath}";
        throw new AwsConfigurationException(explicitProfile
            ? $"No AWS credentials: {why}."
            : $"No AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set and {why}.");
    }
}

/// <summary>AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.</summary>
public sealed class EnvironmentCredentialsProvider(Func<string, string?>? environment = null) : IAwsCredentialsProvider
{
    public ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(TryRead(environment ?? Environment.GetEnvironmentVariable)
            ?? throw new AwsConfigurationException("No AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set."));

    internal static AwsCredentials? TryRead(Func<string, string?> environment)
    {
        var id = environment("AWS_ACCESS_KEY_ID");
        var secret = environment("AWS_SECRET_ACCESS_KEY");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(secret))
            return null;
        return new AwsCredentials(id, secret, environment("AWS_SESSION_TOKEN") is { Length: > 0 } token ? token : null);
    }
}

/// <summary>A profile's key pair from the shared credentials/config files.</summary>
public sealed class ProfileCredentialsProvider(string? profile = null, Func<string, string?>? environment = null) : IAwsCredentialsProvider
{
    private readonly DefaultCredentialsProvider _inner =
        new(SharedConfigFiles.ProfileName(profile, environment), environment);

    public ValueTask<AwsCredentials> GetCredentialsAsync(CancellationToken cancellationToken) => _inner.GetCredentialsAsync(cancellationToken);
}

/// <summary>Region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's <c>region</c> in the shared files.</summary>
public static class AwsRegion
{
    public static string? Resolve(string? profile, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("AWS_REGION") is { Length: > 0 } region)
            return region;
        if (environment("AWS_DEFAULT_REGION") is { Length: > 0 } defaultRegion)
            return defaultRegion;
        var files = SharedConfigFiles.Load(environment);
        return files.Get(SharedConfigFiles.ProfileName(profile, environment), "region") is { Length: > 0 } fromProfile ? fromProfile : null;
    }
}
