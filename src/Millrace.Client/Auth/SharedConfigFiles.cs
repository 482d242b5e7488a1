namespace Millrace.Client.Auth;

/// <summary>The AWS shared files: the credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, sections
/// <c>[name]</c>) and the config file (AWS_CONFIG_FILE or ~/.aws/config, sections <c>[profile name]</c> and
/// <c>[default]</c>). Settings of a profile are looked up in the credentials file first, then in the config file, as
/// the AWS CLI and SDKs do.</summary>
public sealed class SharedConfigFiles
{
    private readonly Dictionary<string, Dictionary<string, string>> _credentials;
    private readonly Dictionary<string, Dictionary<string, string>> _config;

    private SharedConfigFiles(string credentialsPath, string configPath,
        Dictionary<string, Dictionary<string, string>> credentials, Dictionary<string, Dictionary<string, string>> config)
    {
        CredentialsPath = credentialsPath;
        ConfigPath = configPath;
        _credentials = credentials;
        _config = config;
    }

    public string CredentialsPath { get; }
    public string ConfigPath { get; }

    /// <summary>Reads both files (a missing file is empty). <paramref name="environment"/> looks up environment
    /// variables (default: the process environment; tests pass their own).</summary>
    public static SharedConfigFiles Load(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var credentialsPath = ExpandHome(environment("AWS_SHARED_CREDENTIALS_FILE") is { Length: > 0 } c ? c : "~/.aws/credentials", environment);
        var configPath = ExpandHome(environment("AWS_CONFIG_FILE") is { Length: > 0 } f ? f : "~/.aws/config", environment);
        return new SharedConfigFiles(credentialsPath, configPath,
            Parse(ReadIfExists(credentialsPath), configFile: false),
            Parse(ReadIfExists(configPath), configFile: true));
    }

    /// <summary>The profile to use: the explicit one, else AWS_PROFILE, else "default".</summary>
    public static string ProfileName(string? profile, Func<string, string?>? environment = null) =>
        profile is { Length: > 0 } ? profile
        : (environment ?? Environment.GetEnvironmentVariable)("AWS_PROFILE") is { Length: > 0 } p ? p
        : "default";

    public bool HasProfile(string profile) => _credentials.ContainsKey(profile) || _config.ContainsKey(profile);

    /// <summary>A setting of <paramref name="profile"/> (keys are lower-case, e.g. "region"), credentials file first.</summary>
    public string? Get(string profile, string key) =>
        _credentials.TryGetValue(profile, out var c) && c.TryGetValue(key, out var v) ? v
        : _config.TryGetValue(profile, out var f) && f.TryGetValue(key, out var w) ? w
        : null;

    /// <summary>The profile's static key pair, from the credentials file or else the config file.</summary>
    public AwsCredentials? GetCredentials(string profile)
    {
        foreach (var file in new[] { _credentials, _config })
        {
            if (file.TryGetValue(profile, out var settings)
                && settings.TryGetValue("aws_access_key_id", out var id) && id.Length > 0
                && settings.TryGetValue("aws_secret_access_key", out var secret) && secret.Length > 0)
            {
                return new AwsCredentials(id, secret, settings.TryGetValue("aws_session_token", out var token) && token.Length > 0 ? token : null);
            }
        }
        return null;
    }

    private static string? ReadIfExists(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string ExpandHome(string path, Func<string, string?> environment)
    {
        if (path != "~" && !path.StartsWith("~/", StringComparison.Ordinal))
            return path;
        var home = environment("HOME") is { Length: > 0 } h ? h
            : environment("USERPROFILE") is { Length: > 0 } u ? u
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, path.Length > 2 ? path[2..] : "");
    }

    /// <summary>INI as botocore reads it: <c>#</c>/<c>;</c> comment lines, <c>key = value</c> (or <c>key: value</c>),
    /// indented lines continue a nested setting (e.g. <c>s3 =</c>) and are skipped. In the config file only
    /// <c>[default]</c> and <c>[profile name]</c> are profiles.</summary>
    internal static Dictionary<string, Dictionary<string, string>> Parse(string? text, bool configFile)
    {
        var profiles = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        if (text is null)
            return profiles;
        Dictionary<string, string>? current = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed[0] is '#' or ';')
                continue;
            if (trimmed[0] == '[')
            {
                var end = trimmed.IndexOf(']', StringComparison.Ordinal);
                var name = (end < 0 ? trimmed[1..] : trimmed[1..end]).Trim();
                if (configFile)
                {
                    if (name.StartsWith("profile ", StringComparison.Ordinal) || name.StartsWith("profile\t", StringComparison.Ordinal))
                        name = name[8..].Trim();
                    else if (name != "default")
                        name = ""; // [sso-session x], [services x], or a bare name: not a profile
                }
                if (name.Length == 0)
                {
                    current = null;
                    continue;
                }
                if (!profiles.TryGetValue(name, out current))
                    profiles[name] = current = new Dictionary<string, string>(StringComparer.Ordinal);
                continue;
            }
            if (current is null || char.IsWhiteSpace(line[0]))
                continue; // outside a profile, or a nested sub-setting
            var separator = trimmed.IndexOfAny(['=', ':']);
            if (separator <= 0)
                continue;
            current[trimmed[..separator].Trim().ToLowerInvariant()] = trimmed[(separator + 1)..].Trim();
        }
        return profiles;
    }
}

/// <summary>No credentials (or no region) could be found; the message says where the client looked.</summary>
public sealed class AwsConfigurationException(string message) : Exception(message);
