using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Lambda;

/// <summary>
/// Lambda on the one endpoint with real clients and real function processes: the boto3 acceptance scripts
/// (tests/clients/python/lambda_boto3.py, lambda_runtimes_boto3.py, lambda_mappings_boto3.py) and the AWS CLI tutorial commands
/// (<c>create-function --zip-file fileb://</c>, <c>wait function-active-v2</c>, <c>invoke</c>, <c>logs tail</c>).
/// </summary>
public sealed class LambdaClientTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    private async Task RunScriptAsync(string script, string prefix, params string[] checks)
    {
        var result = await ExternalTool.RunAsync("python3", [S3TestSupport.ClientPath("python", script), Server.Endpoint, prefix],
            S3TestSupport.PythonEnv, timeout: TimeSpan.FromSeconds(240));
        S3TestSupport.RequireChecks(Server, result, script, checks);
    }

    [Fact]
    public Task Boto3PythonFunctions() => RunScriptAsync("lambda_boto3.py", "py" + Guid.NewGuid().ToString("N")[..6],
        "producer", "errors_timeouts_crashes", "invocation_types", "versions_and_aliases", "permissions_concurrency_tags", "listing_and_errors", "s3_notifications", "log_groups");

    [Fact]
    public Task Boto3NodeCustomAndMisbehavingFunctions() => RunScriptAsync("lambda_runtimes_boto3.py", "rt" + Guid.NewGuid().ToString("N")[..6],
        "node_handlers", "provided_runtime", "misbehaving", "layers", "runtime_interface_client");

    [Fact]
    public Task Boto3EventSourceMappingsFromKinesis() => RunScriptAsync("lambda_mappings_boto3.py", "esm" + Guid.NewGuid().ToString("N")[..6],
        "tutorial", "report_batch_item_failures", "bisect_and_retries", "filter_criteria", "parallelization", "mapping_api",
        "tumbling_windows", "consumer_subscription", "maximum_record_age");

    [Fact]
    public async Task AwsCliTutorialCommands()
    {
        using var work = S3TestSupport.NewTempDir();
        var zip = Path.Combine(work.Path, "function.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        {
            var entry = archive.CreateEntry("lambda_function.py");
            await using var stream = entry.Open();
            await stream.WriteAsync(Encoding.UTF8.GetBytes("""
                import base64
                def lambda_handler(event, context):
                    for record in event["Records"]:
                        print("Decoded payload: " + base64.b64decode(record["kinesis"]["data"]).decode())
                    return {"records": len(event["Records"])}
                """));
        }

        var name = "cli-" + Guid.NewGuid().ToString("N")[..8];
        await Aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.11", "--handler", "lambda_function.lambda_handler",
            "--role", "arn:aws:iam::000000000000:role/lambda-kinesis-role", "--zip-file", "fileb://" + zip);
        await Aws("lambda", "wait", "function-active-v2", "--function-name", name);

        // The tutorial's test event: a Kinesis record whose data is base64 of "Hello, this is a test."
        var input = Path.Combine(work.Path, "input.txt");
        await File.WriteAllTextAsync(input, """
            {"Records":[{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"1","sequenceNumber":"49590338271490256608559692538361571095921575989136588898",
            "data":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==","approximateArrivalTimestamp":1545084650.987},"eventSource":"aws:kinesis","eventVersion":"1.0",
            "eventID":"shardId-000000000006:49590338271490256608559692538361571095921575989136588898","eventName":"aws:kinesis:record",
            "invokeIdentityArn":"arn:aws:iam::111122223333:role/lambda-kinesis-role","awsRegion":"us-east-2",
            "eventSourceARN":"arn:aws:kinesis:us-east-2:111122223333:stream/lambda-stream"}]}
            """);
        var outFile = Path.Combine(work.Path, "out.txt");
        var invoke = JsonDocument.Parse(await Aws("lambda", "invoke", "--function-name", name, "--cli-binary-format", "raw-in-base64-out",
            "--payload", "file://" + input, "--log-type", "Tail", outFile));
        Assert.Equal(200, invoke.RootElement.GetProperty("StatusCode").GetInt32());
        Assert.Equal("""{"records": 1}""", await File.ReadAllTextAsync(outFile));
        var tail = Encoding.UTF8.GetString(Convert.FromBase64String(invoke.RootElement.GetProperty("LogResult").GetString()!));
        Assert.Contains("Decoded payload: Hello, this is a test.", tail, StringComparison.Ordinal);

        var logs = await Aws("logs", "tail", "/aws/lambda/" + name, "--since", "10m");
        Assert.Contains("Decoded payload: Hello, this is a test.", logs, StringComparison.Ordinal);
        Assert.Contains("REPORT RequestId: ", logs, StringComparison.Ordinal);

        var listed = JsonDocument.Parse(await Aws("lambda", "list-functions"));
        Assert.Contains(listed.RootElement.GetProperty("Functions").EnumerateArray(), f => f.GetProperty("FunctionName").GetString() == name);
        await Aws("lambda", "delete-function", "--function-name", name);
        var gone = await ExternalTool.RunAsync(S3TestSupport.AwsPath, AwsArgs("lambda", "get-function", "--function-name", name));
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("ResourceNotFoundException", gone.StdErr, StringComparison.Ordinal);
    }

    private string[] AwsArgs(params string[] args) => S3TestSupport.AwsCliArgs(Server, args);

    private Task<string> Aws(params string[] args) => S3TestSupport.AwsCliAsync(Server, args);
}
