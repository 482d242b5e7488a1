using System.Text;
using System.Text.RegularExpressions;
using Millrace.Gateway.Authentication;
using Millrace.Server.Hosting;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Security;

/// <summary>
/// The two modes and their safe defaults: loopback runs without signatures unless asked; any other address refuses to
/// start without <c>--auth</c>; <c>--auth sigv4</c> generates a root key at first start, prints it once and keeps its
/// secret sealed; temporary credentials stop working when they expire.
/// </summary>
public sealed partial class AuthModeTests
{
    [Fact]
    public async Task A_non_loopback_address_without_auth_refuses_to_start_and_says_why()
    {
        var dir = Path.Combine(Path.GetTempPath(), "millrace-auth-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = await ExternalTool.RunAsync("dotnet", [MillraceProcess.CliPath, "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", dir],
                timeout: TimeSpan.FromSeconds(60));
            Assert.Equal(2, result.ExitCode);
            Assert.Contains("refusing to listen on 0.0.0.0 without --auth sigv4", result.StdErr, StringComparison.Ordinal);
            Assert.Contains("--auth none", result.StdErr, StringComparison.Ordinal);
            Assert.DoesNotContain("Millrace listening", result.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Loopback_defaults_to_no_verification_and_says_so()
    {
        await using var server = await MillraceProcess.StartAsync();
        Assert.Contains(server.Output, l => l.StartsWith("Auth: none", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Sigv4_generates_a_root_key_once_prints_it_once_and_keeps_the_secret_sealed()
    {
        var dir = Path.Combine(Path.GetTempPath(), "millrace-auth-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string keyId, secret;
            await using (var first = await MillraceProcess.StartInAsync(dir, "--auth", "sigv4"))
            {
                var output = string.Join('\n', first.Output);
                keyId = RootKeyLine().Match(output).Groups[1].Value;
                secret = GeneratedSecretLine().Match(output).Groups[1].Value;
                Assert.Matches("^AKIA[A-Z2-7]{16}$", keyId);
                Assert.Equal(40, secret.Length);
                Assert.Contains("shown once", output, StringComparison.Ordinal);
                await AssertCallerAsync(first.Endpoint, keyId, secret, "arn:aws:iam::000000000000:root");
            }

            foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
            {
                var text = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
                Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            }

            await using var second = await MillraceProcess.StartInAsync(dir, "--auth", "sigv4");
            var again = string.Join('\n', second.Output);
            Assert.Equal(keyId, RootKeyLine().Match(again).Groups[1].Value);
            Assert.DoesNotContain("generated root secret", again, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, again, StringComparison.Ordinal);
            await AssertCallerAsync(second.Endpoint, keyId, secret, "arn:aws:iam::000000000000:root");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_expired_session_token_is_refused_by_every_service_family()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var dir = Path.Combine(Path.GetTempPath(), "millrace-auth-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (var host = await MillraceHost.StartAsync(new MillraceServerOptions
            {
                Port = 0, DataDirectory = dir, Clock = clock, Auth = AuthMode.SigV4,
                RootAccessKeyId = SigV4ServerFixture.RootKey, RootSecretAccessKey = SigV4ServerFixture.RootSecret,
            }))
            {
                var env = new Dictionary<string, string>
                {
                    ["AWS_ENDPOINT_URL"] = host.Endpoint.ToString().TrimEnd('/'),
                    ["ROOT_KEY"] = SigV4ServerFixture.RootKey,
                    ["ROOT_SECRET"] = SigV4ServerFixture.RootSecret,
                    ["PYTHONDONTWRITEBYTECODE"] = "1",
                };
                var script = SigV4ServerFixture.ClientPath("python", "security_boto3.py");
                var assumed = await ExternalTool.RunAsync("python3", [script, "assume"], env, timeout: TimeSpan.FromSeconds(60));
                Assert.True(assumed.ExitCode == 0, assumed.ToString());
                var creds = System.Text.Json.JsonDocument.Parse(assumed.StdOut.Split('\n').Single(l => l.StartsWith("CREDS ", StringComparison.Ordinal))[6..]).RootElement;

                // An hour later by the server's clock (the client signs with the same hour, so only the token is stale).
                clock.Advance(TimeSpan.FromHours(1));
                env["CLOCK_OFFSET"] = "3600";
                env["SESSION_ID"] = creds.GetProperty("id").GetString()!;
                env["SESSION_SECRET"] = creds.GetProperty("secret").GetString()!;
                env["SESSION_TOKEN"] = creds.GetProperty("token").GetString()!;
                var expired = await ExternalTool.RunAsync("python3", [script, "session"], env, timeout: TimeSpan.FromSeconds(60));
                Assert.True(expired.ExitCode == 0, expired.ToString());
                Assert.Contains("\"expired\": \"ok\"", expired.StdOut, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task AssertCallerAsync(string endpoint, string keyId, string secret, string arn)
    {
        var result = await ExternalTool.RunAsync("/usr/bin/aws", ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json", "sts", "get-caller-identity"],
            new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = keyId, ["AWS_SECRET_ACCESS_KEY"] = secret }, timeout: TimeSpan.FromSeconds(60));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"\"{arn}\"", result.StdOut, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"root access key (AKIA[A-Z2-7]+)")]
    private static partial Regex RootKeyLine();

    [GeneratedRegex(@"generated root secret access key: (\S+)")]
    private static partial Regex GeneratedSecretLine();
}
