using System.IO.Compression;
using System.Text.Json;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Lambda;

/// <summary>
/// Pending S3 notifications survive SIGKILL: a function held at reserved concurrency 0 cannot run, so the
/// notification of an upload waits in the queue; Millrace is killed and restarted, the concurrency lifted, and the
/// function then runs with the upload's event.
/// </summary>
public sealed class PendingNotificationTests
{
    private const string Recorder = """
        import boto3, json, os, urllib.parse
        def handler(event, context):
            key = urllib.parse.unquote_plus(event["Records"][0]["s3"]["object"]["key"])
            boto3.client("s3").put_object(Bucket=os.environ["SINK"], Key="seen/" + key, Body=json.dumps(event).encode())
        """;

    [Fact]
    public async Task QueuedNotificationRunsAfterSigkillAndRestart()
    {
        using var work = S3TestSupport.NewTempDir();
        await using var server = await MillraceProcess.StartAsync();
        Task<string> Aws(params string[] args) => S3TestSupport.AwsCliAsync(server, args);

        var zip = Path.Combine(work.Path, "recorder.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var entry = new StreamWriter(archive.CreateEntry("app.py").Open()))
        {
            await entry.WriteAsync(Recorder);
        }

        await Aws("s3", "mb", "s3://pending-source");
        await Aws("s3", "mb", "s3://pending-sink");
        var arn = JsonDocument.Parse(await Aws("lambda", "create-function", "--function-name", "recorder", "--runtime", "python3.11",
            "--handler", "app.handler", "--role", "arn:aws:iam::000000000000:role/r", "--timeout", "30",
            "--environment", "Variables={SINK=pending-sink}", "--zip-file", "fileb://" + zip)).RootElement.GetProperty("FunctionArn").GetString()!;
        await Aws("lambda", "wait", "function-active-v2", "--function-name", "recorder");
        await Aws("lambda", "put-function-concurrency", "--function-name", "recorder", "--reserved-concurrent-executions", "0");
        await Aws("s3api", "put-bucket-notification-configuration", "--bucket", "pending-source", "--notification-configuration",
            JsonSerializer.Serialize(new { LambdaFunctionConfigurations = new[] { new { LambdaFunctionArn = arn, Events = new[] { "s3:ObjectCreated:Put" } } } }));

        var file = Path.Combine(work.Path, "report.txt");
        await File.WriteAllTextAsync(file, "queued across a crash");
        await Aws("s3", "cp", file, "s3://pending-source/reports/2026 report.txt");
        await Task.Delay(500); // throttled, so it stays queued
        Assert.DoesNotContain("seen/", await Aws("s3", "ls", "s3://pending-sink", "--recursive"), StringComparison.Ordinal);

        server.Kill();
        await server.RestartAsync();
        await Aws("lambda", "delete-function-concurrency", "--function-name", "recorder");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string listing;
        while (!(listing = await Aws("s3", "ls", "s3://pending-sink", "--recursive")).Contains("seen/reports/2026 report.txt", StringComparison.Ordinal)
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        Assert.Contains("seen/reports/2026 report.txt", listing, StringComparison.Ordinal);
        var evt = JsonDocument.Parse(await Aws("s3", "cp", "s3://pending-sink/seen/reports/2026 report.txt", "-"));
        var record = evt.RootElement.GetProperty("Records")[0];
        Assert.Equal("ObjectCreated:Put", record.GetProperty("eventName").GetString());
        Assert.Equal("reports/2026+report.txt", record.GetProperty("s3").GetProperty("object").GetProperty("key").GetString());
        Assert.Equal(21, record.GetProperty("s3").GetProperty("object").GetProperty("size").GetInt32());
    }
}
