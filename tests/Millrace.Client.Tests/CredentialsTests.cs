using Millrace.Client.Auth;

namespace Millrace.Client.Tests;

/// <summary>The default credential and region chain over real temporary files and a private environment.</summary>
public sealed class CredentialsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-aws-").FullName;
    private readonly Dictionary<string, string> _env = new(StringComparer.Ordinal);

    public CredentialsTests() => _env["HOME"] = _dir; // ~/.aws resolves inside the temp directory

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string? Env(string name) => _env.TryGetValue(name, out var v) ? v : null;

    private void WriteHomeFile(string name, string text)
    {
        Directory.CreateDirectory(Path.Combine(_dir, ".aws"));
        File.WriteAllText(Path.Combine(_dir, ".aws", name), text);
    }

    private Task<AwsCredentials> ResolveAsync(string? profile = null) =>
        DefaultCredentialsChain.Create(profile, Env).GetCredentialsAsync(CancellationToken.None).AsTask();

    private const string CredentialsFile = """
        # comment
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secret/default+1

        [dev]
        aws_access_key_id=AKIDDEV
        aws_secret_access_key=secret-dev
        aws_session_token = token-dev
        ; another comment
        """;

    private const string ConfigFile = """
        [default]
        region = eu-west-1

        [profile dev]
        region = ap-south-1
        s3 =
          max_concurrent_requests = 20

        [profile fromconfig]
        aws_access_key_id = AKIDCONFIG
        aws_secret_access_key = secret-config
        region = us-west-2

        [fromconfig-bare]
        aws_access_key_id = AKIDIGNORED
        aws_secret_access_key = ignored

        [profile assume]
        role_arn = arn:aws:iam::123456789012:role/r
        source_profile = default
        """;

    [Fact]
    public async Task Environment_variables_come_first_with_the_session_token()
    {
        WriteHomeFile("credentials", CredentialsFile);
        _env["AWS_ACCESS_KEY_ID"] = "AKIDENV";
        _env["AWS_SECRET_ACCESS_KEY"] = "secret-env";
        _env["AWS_SESSION_TOKEN"] = "token-env";
        Assert.Equal(new AwsCredentials("AKIDENV", "secret-env", "token-env"), await ResolveAsync());
    }

    [Fact]
    public async Task Without_environment_keys_the_default_profile_of_the_credentials_file_is_used()
    {
        WriteHomeFile("credentials", CredentialsFile);
        _env["AWS_ACCESS_KEY_ID"] = "AKIDONLYHALF"; // a key id without a secret is not a pair
        Assert.Equal(new AwsCredentials("AKIDDEFAULT", "secret/default+1"), await ResolveAsync());
    }

    [Fact]
    public async Task AWS_PROFILE_selects_the_profile_and_an_explicit_profile_beats_it_and_the_environment()
    {
        WriteHomeFile("credentials", CredentialsFile);
        WriteHomeFile("config", ConfigFile);
        _env["AWS_PROFILE"] = "dev";
        Assert.Equal(new AwsCredentials("AKIDDEV", "secret-dev", "token-dev"), await ResolveAsync());

        _env["AWS_ACCESS_KEY_ID"] = "AKIDENV";
        _env["AWS_SECRET_ACCESS_KEY"] = "secret-env";
        Assert.Equal("AKIDENV", (await ResolveAsync()).AccessKeyId); // AWS_PROFILE does not beat the environment's keys
        Assert.Equal("AKIDCONFIG", (await ResolveAsync("fromconfig")).AccessKeyId); // an explicit profile does
    }

    [Fact]
    public async Task Keys_in_the_config_file_count_and_only_profile_sections_are_profiles()
    {
        WriteHomeFile("config", ConfigFile);
        Assert.Equal(new AwsCredentials("AKIDCONFIG", "secret-config"), await ResolveAsync("fromconfig"));
        var e = await Assert.ThrowsAsync<AwsConfigurationException>(() => ResolveAsync("fromconfig-bare"));
        Assert.Contains("profile 'fromconfig-bare' is not in", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task File_locations_come_from_AWS_SHARED_CREDENTIALS_FILE_and_AWS_CONFIG_FILE()
    {
        var credentials = Path.Combine(_dir, "elsewhere-credentials");
        var config = Path.Combine(_dir, "elsewhere-config");
        File.WriteAllText(credentials, "[ci]\r\naws_access_key_id = AKIDCI\r\naws_secret_access_key = secret-ci\r\n");
        File.WriteAllText(config, "[profile ci]\nregion = sa-east-1\n");
        WriteHomeFile("credentials", CredentialsFile); // not read: the variables point elsewhere
        _env["AWS_SHARED_CREDENTIALS_FILE"] = credentials;
        _env["AWS_CONFIG_FILE"] = config;
        _env["AWS_PROFILE"] = "ci";
        Assert.Equal(new AwsCredentials("AKIDCI", "secret-ci"), await ResolveAsync());
        Assert.Equal("sa-east-1", AwsRegion.Resolve(null, Env));
        await Assert.ThrowsAsync<AwsConfigurationException>(() => ResolveAsync("default"));
    }

    [Fact]
    public async Task Missing_credentials_say_where_the_client_looked()
    {
        var e = await Assert.ThrowsAsync<AwsConfigurationException>(() => ResolveAsync());
        Assert.Contains("AWS_ACCESS_KEY_ID", e.Message, StringComparison.Ordinal);
        Assert.Contains("profile 'default'", e.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_dir, ".aws", "credentials"), e.Message, StringComparison.Ordinal);

        WriteHomeFile("config", ConfigFile);
        e = await Assert.ThrowsAsync<AwsConfigurationException>(() => ResolveAsync("assume"));
        Assert.Contains("role", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<AwsConfigurationException>(() => ResolveAsync("dev")); // region only
        Assert.Contains("no aws_access_key_id", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Region_comes_from_AWS_REGION_then_AWS_DEFAULT_REGION_then_the_profile()
    {
        WriteHomeFile("config", ConfigFile);
        Assert.Equal("eu-west-1", AwsRegion.Resolve(null, Env));
        Assert.Equal("ap-south-1", AwsRegion.Resolve("dev", Env));
        _env["AWS_PROFILE"] = "fromconfig";
        Assert.Equal("us-west-2", AwsRegion.Resolve(null, Env));
        _env["AWS_DEFAULT_REGION"] = "ca-central-1";
        Assert.Equal("ca-central-1", AwsRegion.Resolve(null, Env));
        _env["AWS_REGION"] = "eu-north-1";
        Assert.Equal("eu-north-1", AwsRegion.Resolve(null, Env));
        Assert.Null(AwsRegion.Resolve("nobody", name => name == "HOME" ? Path.Combine(_dir, "empty") : null));
    }

    [Fact]
    public void The_options_region_wins_and_no_region_anywhere_is_a_clear_error()
    {
        WriteHomeFile("config", ConfigFile);
        _env["AWS_REGION"] = "eu-north-1";
        Assert.Equal("us-east-2", AwsJsonTransport.ResolveRegion(new AwsClientOptions { Region = "us-east-2" }, Env));
        Assert.Equal("eu-north-1", AwsJsonTransport.ResolveRegion(new AwsClientOptions(), Env));
        _env.Remove("AWS_REGION");
        var e = Assert.Throws<AwsConfigurationException>(() => AwsJsonTransport.ResolveRegion(new AwsClientOptions { Profile = "fromconfig-bare" }, Env));
        Assert.Contains("No AWS region", e.Message, StringComparison.Ordinal);
        Assert.Contains("'fromconfig-bare'", e.Message, StringComparison.Ordinal);
    }
}
