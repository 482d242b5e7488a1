using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Lambda;

/// <summary>
/// The tutorial pipeline end to end with the AWS CLI: a Python producer function, triggered by an S3 notification on
/// <c>.txt</c> uploads, reads the object with <c>boto3.client('s3').get_object</c> and puts its text into a stream
/// with <c>boto3.client('kinesis').put_record</c>; two Python consumer functions with event-source mappings on the
/// stream decode <c>event['Records'][i]['kinesis']['data']</c>; their log groups (FilterLogEvents and
/// <c>aws logs tail</c>) show the decoded text. The function code is the tutorial's, unchanged but for names.
/// </summary>
public sealed class TutorialPipelineTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private const string Producer = """
        import boto3
        import urllib.parse

        s3 = boto3.client('s3')
        kinesis = boto3.client('kinesis')

        def lambda_handler(event, context):
            bucket = event['Records'][0]['s3']['bucket']['name']
            key = urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key'], encoding='utf-8')
            text = s3.get_object(Bucket=bucket, Key=key)['Body'].read().decode('utf-8')
            for line in text.splitlines():
                kinesis.put_record(StreamName='STREAM', Data=line.encode('utf-8'), PartitionKey=key)
            print(f"Put {len(text.splitlines())} lines of {key} into STREAM")
            return {'statusCode': 200}
        """;

    private const string Consumer = """
        import base64

        def lambda_handler(event, context):
            for record in event['Records']:
                payload = base64.b64decode(record['kinesis']['data']).decode('utf-8')
                print("CONSUMER decoded: " + payload)
            return {'records': len(event['Records'])}
        """;

    private MillraceProcess Server => fixture.Server;

    private Task<string> Aws(params string[] args) => S3TestSupport.AwsCliAsync(Server, args);

    private static string Zip(string directory, string code)
    {
        var path = Path.Combine(directory, Guid.NewGuid().ToString("N") + ".zip");
        using var archive = ZipFile.Open(path, ZipArchiveMode.Create);
        using var entry = new StreamWriter(archive.CreateEntry("lambda_function.py").Open());
        entry.Write(code);
        return path;
    }

    private async Task<string> CreateFunctionAsync(string directory, string name, string code)
    {
        var created = JsonDocument.Parse(await Aws("lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
            "--handler", "lambda_function.lambda_handler", "--role", "arn:aws:iam::000000000000:role/lambda-s3-kinesis-role",
            "--timeout", "30", "--zip-file", "fileb://" + Zip(directory, code)));
        await Aws("lambda", "wait", "function-active-v2", "--function-name", name);
        return created.RootElement.GetProperty("FunctionArn").GetString()!;
    }

    [Fact]
    public async Task S3UploadToProducerToStreamToTwoConsumersAndTheirLogs()
    {
        using var work = S3TestSupport.NewTempDir();
        var id = Guid.NewGuid().ToString("N")[..8];
        var stream = "tutorial-" + id;
        var bucket = "tutorial-" + id;
        await Aws("kinesis", "create-stream", "--stream-name", stream, "--shard-count", "2");
        await Aws("kinesis", "wait", "stream-exists", "--stream-name", stream);
        var streamArn = JsonDocument.Parse(await Aws("kinesis", "describe-stream-summary", "--stream-name", stream))
            .RootElement.GetProperty("StreamDescriptionSummary").GetProperty("StreamARN").GetString()!;
        await Aws("s3", "mb", "s3://" + bucket);

        var producerArn = await CreateFunctionAsync(work.Path, "producer-" + id, Producer.Replace("STREAM", stream, StringComparison.Ordinal));
        await Aws("lambda", "add-permission", "--function-name", "producer-" + id, "--statement-id", "s3-invoke", "--action", "lambda:InvokeFunction",
            "--principal", "s3.amazonaws.com", "--source-arn", "arn:aws:s3:::" + bucket);
        var notification = JsonSerializer.Serialize(new
        {
            LambdaFunctionConfigurations = new[]
            {
                new
                {
                    Id = "txt-uploads",
                    LambdaFunctionArn = producerArn,
                    Events = new[] { "s3:ObjectCreated:*" },
                    Filter = new { Key = new { FilterRules = new[] { new { Name = "suffix", Value = ".txt" } } } },
                },
            },
        });
        await Aws("s3api", "put-bucket-notification-configuration", "--bucket", bucket, "--notification-configuration", notification);

        foreach (var consumer in new[] { "consumer-a-" + id, "consumer-b-" + id })
        {
            await CreateFunctionAsync(work.Path, consumer, Consumer);
            await Aws("lambda", "create-event-source-mapping", "--function-name", consumer, "--event-source-arn", streamArn,
                "--batch-size", "100", "--starting-position", "LATEST");
        }

        // The mappings start at LATEST: records put from their creation on are delivered, even before the pollers start.
        var upload = Path.Combine(work.Path, "my notes.txt");
        await File.WriteAllLinesAsync(upload, ["first line of the tutorial", "second line of the tutorial", "third line"]);
        await Aws("s3", "cp", upload, $"s3://{bucket}/uploads/my notes.txt");
        var ignored = Path.Combine(work.Path, "image.png");
        await File.WriteAllTextAsync(ignored, "not text");
        await Aws("s3", "cp", ignored, $"s3://{bucket}/uploads/image.png");

        foreach (var consumer in new[] { "consumer-a-" + id, "consumer-b-" + id })
        {
            var messages = await WaitForMessagesAsync("/aws/lambda/" + consumer, "\"CONSUMER decoded\"", 3);
            Assert.Equal(
                ["CONSUMER decoded: first line of the tutorial", "CONSUMER decoded: second line of the tutorial", "CONSUMER decoded: third line"],
                messages.Order(StringComparer.Ordinal));
            var tail = await Aws("logs", "tail", "/aws/lambda/" + consumer, "--since", "10m", "--filter-pattern", "CONSUMER");
            Assert.Contains("CONSUMER decoded: second line of the tutorial", tail, StringComparison.Ordinal);
        }

        // The producer ran once: for the .txt upload (its key decoded from S3's "uploads/my+notes.txt"), not for the .png.
        var produced = await WaitForMessagesAsync("/aws/lambda/producer-" + id, "Put", 1);
        Assert.Equal([$"Put 3 lines of uploads/my notes.txt into {stream}"], produced);
        var records = JsonDocument.Parse(await Aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/producer-" + id, "--filter-pattern", "START"));
        Assert.Equal(1, records.RootElement.GetProperty("events").GetArrayLength());
    }

    private async Task<List<string>> WaitForMessagesAsync(string group, string pattern, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        List<string> messages = [];
        while (DateTime.UtcNow < deadline)
        {
            var result = await ExternalTool.RunAsync(S3TestSupport.AwsPath,
                S3TestSupport.AwsCliArgs(Server, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", pattern));
            if (result.ExitCode == 0)
            {
                messages = JsonDocument.Parse(result.StdOut).RootElement.GetProperty("events").EnumerateArray()
                    .Select(e => e.GetProperty("message").GetString()!).ToList();
                if (messages.Count >= count)
                {
                    return messages;
                }
            }

            await Task.Delay(250);
        }

        Assert.Fail($"{group} shows {messages.Count} of {count} events matching {pattern}: {string.Join(" | ", messages)}\n{string.Join('\n', Server.Output.TakeLast(30))}");
        return messages;
    }
}
