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

    [Fact]
    public async Task The_AWS_documentation_agent_json_examples_run_unchanged()
    {
        using var client = AgentTestSupport.Client(_server);
        foreach (var stream in new[] { "yourkinesisstream", "csv-stream", "apache-stream", "syslog-stream" })
        {
            await AgentTestSupport.CreateStreamAsync(client, stream, 1);
        }

        var logs = Path.Combine(_dir, "tmp");
        Directory.CreateDirectory(logs);

        // The documentation's examples, with /tmp/ moved to the test's folder and the streams named; endpoints left
        // empty as they are there, so AWS_ENDPOINT_URL (the SDKs' variable) points them at Millrace.
        var config = Path.Combine(_dir, "agent.json");
        await File.WriteAllTextAsync(config, $$"""
            {
              "cloudwatch.emitMetrics": true,
              "kinesis.endpoint": "",
              "firehose.endpoint": "",
              "checkpointFile": "{{_dir}}/checkpoints",
              "flows": [
                { "filePattern": "{{logs}}/app.log*", "kinesisStream": "yourkinesisstream", "partitionKeyOption": "RANDOM", "maxBufferAgeMillis": 1000 },
                { "filePattern": "{{logs}}/data.csv*", "kinesisStream": "csv-stream", "maxBufferAgeMillis": 1000,
                  "dataProcessingOptions": [ { "optionName": "CSVTOJSON", "customFieldNames": ["field1", "field2", "field3"], "delimiter": "," } ] },
                { "filePattern": "{{logs}}/access_log*", "kinesisStream": "apache-stream", "maxBufferAgeMillis": 1000,
                  "dataProcessingOptions": [ { "optionName": "LOGTOJSON", "logFormat": "COMBINEDAPACHELOG" } ] },
                { "filePattern": "{{logs}}/messages*", "kinesisStream": "syslog-stream", "maxBufferAgeMillis": 1000,
                  "dataProcessingOptions": [ { "optionName": "SINGLELINE" }, { "optionName": "LOGTOJSON", "logFormat": "SYSLOG", "jsonFormat": "COMPACT" } ] }
              ]
            }
            """);
        foreach (var name in new[] { "app.log", "data.csv", "access_log", "messages" })
        {
            await File.WriteAllTextAsync(Path.Combine(logs, name), "");
        }

        await using var agent = AgentProcess.Start(config, new Dictionary<string, string> { ["AWS_ENDPOINT_URL"] = _server.Endpoint, ["AWS_REGION"] = "us-east-1" });
        await Task.Delay(1500);
        await File.AppendAllTextAsync(Path.Combine(logs, "app.log"), "plain line\n");
        await File.AppendAllTextAsync(Path.Combine(logs, "data.csv"), "a,b,c\n1,2\n");
        await File.AppendAllTextAsync(Path.Combine(logs, "access_log"),
            "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n");
        await File.AppendAllTextAsync(Path.Combine(logs, "messages"), "Dec  7 10:15:01 web-1 CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)\nnot syslog\n");

        async Task<List<string>> Read(string stream, int count)
        {
            List<string> lines = [];
            for (var i = 0; i < 60 && lines.Count < count; i++)
            {
                await Task.Delay(500);
                lines = (await AgentTestSupport.ReadAllAsync(client, stream)).Values.SelectMany(v => v).ToList();
            }

            return lines;
        }

        Assert.Equal(["plain line\n"], await Read("yourkinesisstream", 1));
        Assert.Equal(["""{"field1":"a","field2":"b","field3":"c"}""" + "\n", """{"field1":"1","field2":"2","field3":null}""" + "\n"], await Read("csv-stream", 2));
        Assert.Equal(["""{"host":"127.0.0.1","ident":null,"authuser":"frank","datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /apache_pb.gif HTTP/1.0","response":"200","bytes":"2326","referer":"http://www.example.com/start.html","agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"}""" + "\n"],
            await Read("apache-stream", 1));
        Assert.Equal(["""{"timestamp":"Dec  7 10:15:01","hostname":"web-1","program":"CRON","processid":"4242","message":"(root) CMD (run-parts /etc/cron.hourly)"}""" + "\n"],
            await Read("syslog-stream", 1));
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
