using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Server.Tests.S3;
using Millrace.Testing;

namespace Millrace.Server.Tests.Agent;

/// <summary>The course's agent demo, a Firehose flow, and configuration errors (exit 2 before anything is sent).</summary>
public sealed partial class AgentClientTests : IAsyncLifetime
{
    private MillraceProcess _server = null!;
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-agent-").FullName;

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [GeneratedRegex(@"^\d\d:\d\d:\d\d log message \d+\n$")]
    private static partial Regex DemoLine();

    [Fact]
    public async Task Course_demo_a_shell_loop_writes_the_log_and_the_lines_arrive()
    {
        using var client = AgentTestSupport.Client(_server);
        await AgentTestSupport.CreateStreamAsync(client, "demo-stream", 1);
        var log = Path.Combine(_dir, "server.log");
        var config = AgentTestSupport.WriteConfig(_dir, new JsonObject
        {
            ["checkpointFile"] = Path.Combine(_dir, "checkpoints"),
            ["kinesis.endpoint"] = _server.Endpoint,
            ["kinesis.region"] = "us-east-1",
            ["flows"] = new JsonArray(new JsonObject { ["filePattern"] = log, ["kinesisStream"] = "demo-stream", ["maxBufferAgeMillis"] = 1000 }),
        });
        await File.WriteAllTextAsync(log, "");
        await using var agent = AgentProcess.Start(config);
        await Task.Delay(1500); // END_OF_FILE: the agent starts at the end of what is there

        var loop = await ExternalTool.RunAsync("/bin/sh", ["-c", $"for i in $(seq 1 40); do echo \"$(date +%H:%M:%S) log message $i\" >> '{log}'; sleep 0.05; done"]);
        Assert.Equal(0, loop.ExitCode);
        List<string> lines = [];
        for (var i = 0; i < 60 && lines.Count < 40; i++)
        {
            await Task.Delay(500);
            lines = (await AgentTestSupport.ReadAllAsync(client, "demo-stream")).Values.SelectMany(v => v).ToList();
        }

        Assert.Equal(40, lines.Count);
        Assert.All(lines, l => Assert.Matches(DemoLine(), l));
        Assert.Equal(Enumerable.Range(1, 40), lines.Select(l => int.Parse(l.Split(' ')[^1].Trim(), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(0, await agent.StopAsync());
    }

    [Fact]
    public async Task A_delivery_stream_flow_reaches_S3_through_Firehose()
    {
        await S3TestSupport.AwsCliAsync(_server, "s3", "mb", "s3://agent-bucket");
        // A 1 s buffer interval: the AWS CLI's model insists on at least 60, the API on at least 0.
        using (var http = new HttpClient())
        using (var create = new HttpRequestMessage(HttpMethod.Post, _server.Endpoint)
        {
            Content = new StringContent("""
                {"DeliveryStreamName":"agent-delivery","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r",
                 "BucketARN":"arn:aws:s3:::agent-bucket","BufferingHints":{"SizeInMBs":1,"IntervalInSeconds":1}}}
                """, new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.1")),
        })
        {
            create.Headers.TryAddWithoutValidation("X-Amz-Target", "Firehose_20150804.CreateDeliveryStream");
            create.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=00");
            using var created = await http.SendAsync(create);
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        }

        var log = Path.Combine(_dir, "access.log");
        await File.WriteAllLinesAsync(log, Enumerable.Range(1, 300).Select(i => $"request {i}"));
        var config = AgentTestSupport.WriteConfig(_dir, new JsonObject
        {
            ["checkpointFile"] = Path.Combine(_dir, "checkpoints"),
            ["firehose.endpoint"] = _server.Endpoint,
            ["kinesis.region"] = "us-east-1",
            ["flows"] = new JsonArray(new JsonObject
            {
                ["filePattern"] = log, ["deliveryStream"] = "agent-delivery", ["initialPosition"] = "START_OF_FILE",
                ["maxBufferAgeMillis"] = 1000, ["aggregatedRecordSizeBytes"] = 1000,
            }),
        });
        await using var agent = AgentProcess.Start(config);
        string listed = "";
        for (var i = 0; i < 60 && !listed.Contains("Key", StringComparison.Ordinal); i++)
        {
            await Task.Delay(1000);
            listed = await S3TestSupport.AwsCliAsync(_server, "s3api", "list-objects-v2", "--bucket", "agent-bucket");
        }

        var key = JsonNode.Parse(listed)!["Contents"]![0]!["Key"]!.ToString();
        var body = Path.Combine(_dir, "object");
        await S3TestSupport.AwsCliAsync(_server, "s3api", "get-object", "--bucket", "agent-bucket", "--key", key, body);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => $"request {i}"), await File.ReadAllLinesAsync(body));
        Assert.Equal(0, await agent.StopAsync());
    }

    [Theory]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s"}],"kinesis.endpont":"http://127.0.0.1:1"}""", "kinesis.endpont is not a known key")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s","deliveryStream":"d"}]}""", "flows[0] must name exactly one destination")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log"}]}""", "flows[0] must name exactly one destination")]
    [InlineData("""{"flows":[{"kinesisStream":"s"}]}""", "flows[0].filePattern is required")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s","maxBufferSizeRecords":501}]}""", "flows[0].maxBufferSizeRecords must be between 1 and 500")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s","maxBufferAgeMillis":"soon"}]}""", "flows[0].maxBufferAgeMillis must be a whole number")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s","initialPosition":"MIDDLE"}]}""", "flows[0].initialPosition must be END_OF_FILE or START_OF_FILE")]
    [InlineData("""{"flows":[{"filePattern":"/tmp/x.log","kinesisStream":"s","multiLineStartPattern":"(["}]}""", "flows[0].multiLineStartPattern is not a valid regular expression")]
    [InlineData("""{"flows": [""", "not valid JSON")]
    public async Task Configuration_errors_name_the_file_and_key_and_exit_2(string json, string message)
    {
        var path = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(path, json);
        await using var agent = AgentProcess.Start(path);
        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(agent.Output, l => l.Contains(path, StringComparison.Ordinal) && l.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreadable_configuration_exits_2()
    {
        await using var agent = AgentProcess.Start(Path.Combine(_dir, "missing.json"));
        Assert.Equal(2, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(agent.Output, l => l.Contains("missing.json: cannot read the configuration", StringComparison.Ordinal));
    }
}
