using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace Millrace.Server.Tests.S3;

/// <summary>
/// boto3 against Millrace S3 (tests/clients/python/s3_boto3.py): multipart upload_file/download_file (23 MiB, 5 parts),
/// paginated delimiter listings over 2,450 keys checked against the expected model, presigned GET/PUT (SigV4 and the
/// SigV2 form boto3 uses by default) and their expiry, copy_object COPY/REPLACE, metadata, conditional and ranged GET,
/// error codes. The same script is also run against moto_server, and its deviations are only written to the test output.
/// </summary>
public sealed class Boto3S3Tests(S3ServerFixture fixture, ITestOutputHelper output) : IClassFixture<S3ServerFixture>
{
    private const string MotoServer = "/root/.pyenv/versions/3.11.7/bin/moto_server";

    private MillraceProcess Server => fixture.Server;

    private static async Task<ExternalTool.Result> RunScriptAsync(string endpoint, string prefix)
    {
        using var work = S3TestSupport.NewTempDir();
        return await ExternalTool.RunAsync(
            "python3",
            [S3TestSupport.ClientPath("python", "s3_boto3.py"), endpoint, prefix, work.Path],
            S3TestSupport.PythonEnv,
            timeout: TimeSpan.FromSeconds(150));
    }

    [Fact]
    public async Task Boto3S3Acceptance()
    {
        var result = await RunScriptAsync(Server.Endpoint, S3TestSupport.UniqueBucket("py"));
        S3TestSupport.RequireChecks(Server, result, "s3_boto3.py", "multipart", "paging", "presigned_v4", "presigned_v2", "copy", "metadata", "conditional_and_range", "errors");
    }

    /// <summary>Runs the same script against moto_server and records where it deviates; never fails on moto's answers.</summary>
    [Fact]
    public async Task SameScriptAgainstMotoServerRecordsDeviations()
    {
        if (!File.Exists(MotoServer))
        {
            output.WriteLine($"{MotoServer} is not installed; nothing to compare");
            return;
        }

        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var psi = new System.Diagnostics.ProcessStartInfo(MotoServer, ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var moto = System.Diagnostics.Process.Start(psi)!;
        moto.OutputDataReceived += (_, _) => { };
        moto.ErrorDataReceived += (_, _) => { };
        moto.BeginOutputReadLine();
        moto.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            for (int i = 0; i < 100; i++)
            {
                try
                {
                    _ = await http.GetAsync($"http://127.0.0.1:{port}/");
                    break;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(200);
                }
            }

            var result = await RunScriptAsync($"http://127.0.0.1:{port}", S3TestSupport.UniqueBucket("moto"));
            output.WriteLine(result.StdOut);
            var line = result.StdOut.Split('\n').FirstOrDefault(l => l.StartsWith("SUMMARY ", StringComparison.Ordinal));
            Assert.True(line is not null, $"the script did not finish against moto_server:\n{result}");
            using var doc = JsonDocument.Parse(line["SUMMARY ".Length..]);
            foreach (var check in doc.RootElement.GetProperty("checks").EnumerateObject().Where(c => c.Value.GetString() != "ok"))
            {
                output.WriteLine($"moto deviates: {check.Name}: {check.Value.GetString()}");
            }
        }
        finally
        {
            moto.Kill(entireProcessTree: true);
            await moto.WaitForExitAsync();
        }
    }
}
