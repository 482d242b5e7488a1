using System.Text;
using System.Text.Json.Nodes;
using Millrace.Agent.Processing;

namespace Millrace.Agent.Tests.Processing;

/// <summary>The processing options against the AWS agent's behaviour (its converters and the examples of its documentation).</summary>
public sealed class ConverterTests
{
    private static string Run(string options, string record)
    {
        var converters = DataProcessing.Parse(JsonNode.Parse(options)!.AsArray(), "flows[0].dataProcessingOptions");
        byte[]? data = Encoding.UTF8.GetBytes(record);
        foreach (var c in converters)
        {
            data = c.Convert(data);
            if (data is null)
            {
                return "<filtered>";
            }
        }

        return Encoding.UTF8.GetString(data);
    }

    [Fact]
    public void Common_apache_log_as_in_the_AWS_documentation()
    {
        Assert.Equal(
            """{"host":"64.242.88.10","ident":null,"authuser":null,"datetime":"07/Mar/2004:16:10:02 -0800","request":"GET /mailman/listinfo/hsdivision HTTP/1.1","response":"200","bytes":"6291"}""" + "\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG"}]""",
                "64.242.88.10 - - [07/Mar/2004:16:10:02 -0800] \"GET /mailman/listinfo/hsdivision HTTP/1.1\" 200 6291\n"));
    }

    [Fact]
    public void Combined_apache_log_names_the_referer_as_the_agent_spells_it()
    {
        Assert.Equal(
            """{"host":"192.168.1.20","ident":null,"authuser":"frank","datetime":"10/Oct/2000:13:55:36 -0700","request":"GET /apache_pb.gif HTTP/1.0","response":"200","bytes":null,"referer":"http://www.example.com/start.html","agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"}""" + "\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"COMBINEDAPACHELOG"}]""",
                "192.168.1.20 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 - \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"\n"));
    }

    [Fact]
    public void Apache_error_log_and_syslogs()
    {
        Assert.Equal(
            """{"timestamp":"Wed Oct 11 14:32:52 2000","module":"core","severity":"error","processid":"3050","threadid":"140","client":"127.0.0.1","message":"client denied by server configuration: /export/home/live/ap/htdocs/test"}""" + "\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"APACHEERRORLOG"}]""",
                "[Wed Oct 11 14:32:52 2000] [core:error] [pid 3050:tid 140] [client 127.0.0.1] client denied by server configuration: /export/home/live/ap/htdocs/test\n"));
        Assert.Equal(
            """{"timestamp":"Mar 15 09:37:08","hostname":"ip-10-0-0-1","program":"sshd","processid":"1234","message":"Accepted publickey for ec2-user"}""" + "\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"SYSLOG"}]""", "Mar 15 09:37:08 ip-10-0-0-1 sshd[1234]: Accepted publickey for ec2-user\n"));
        Assert.Equal(
            """{"timestamp":"2026-12-07T10:00:00.123+00:00","hostname":"web1","program":"cron","processid":null,"message":"job done"}""" + "\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"RFC3339SYSLOG"}]""", "2026-12-07T10:00:00.123+00:00 web1 cron: job done\n"));
    }

    [Fact]
    public void A_line_that_does_not_match_the_format_is_skipped_as_the_AWS_agent_skips_it() =>
        Assert.Equal("<filtered>", Run("""[{"optionName":"LOGTOJSON","logFormat":"SYSLOG"}]""", "not a syslog line\n"));

    [Fact]
    public void Match_pattern_with_custom_field_names_and_pretty_printing()
    {
        Assert.Equal("{\n  \"user\" : \"ann\",\n  \"action\" : \"login\"\n}\n",
            Run("""[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG","matchPattern":"^(\\w+) did (\\w+)$","customFieldNames":["user","action"],"jsonFormat":"PRETTYPRINT"}]""",
                "ann did login\n"));
    }

    [Fact]
    public void Csv_to_json_fills_missing_columns_with_null_and_drops_extra_ones()
    {
        var options = """[{"optionName":"CSVTOJSON","customFieldNames":["id","name","city"]}]""";
        Assert.Equal("""{"id":"1","name":"ann","city":"Oslo"}""" + "\n", Run(options, "1,ann,Oslo\n"));
        Assert.Equal("""{"id":"2","name":"bob","city":null}""" + "\n", Run(options, "2,bob\n"));
        Assert.Equal("""{"id":"3","name":"cy","city":"Rome"}""" + "\n", Run(options, "3,cy,Rome,extra\n"));
        Assert.Equal("""{"a":"x","b":"y"}""" + "\n", Run("""[{"optionName":"CSVTOJSON","customFieldNames":["a","b"],"delimiter":"\\t"}]""", "x\ty\n"));
    }

    [Fact]
    public void Single_line_joins_trimmed_lines()
    {
        Assert.Equal("Exception in thread mainat Foo.bar(Foo.java:1)\n", Run("""[{"optionName":"SINGLELINE"}]""", "Exception in thread main\n    at Foo.bar(Foo.java:1)\n"));
        Assert.Equal("a\\nb\n", Run("""[{"optionName":"SINGLELINE","parseOptions":"ESCAPE_NEW_LINE"}]""", "a\n  b\n"));
        Assert.Equal("  a  b\n", Run("""[{"optionName":"SINGLELINE","parseOptions":"NO_TRIM"}]""", "  a\n  b\n"));
        Assert.Equal("  a\\n  b\n", Run("""[{"optionName":"SINGLELINE","parseOptions":["NO_TRIM","ESCAPE_NEW_LINE"]}]""", "  a\n  b\n"));
    }

    [Fact]
    public void Metadata_and_brackets_and_a_chain_in_order()
    {
        Assert.Equal("""{"metadata":{"env":"prod","n":{"x":1}},"data":"hello"}""" + "\n",
            Run("""[{"optionName":"ADDMETADATA","metadata":{"env":"prod","n":{"x":1}}}]""", "hello\n"));
        Assert.Matches("""^\{"metadata":null,"data":"hi","ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"\}\n$""", Run("""[{"optionName":"ADDMETADATA","timestamp":"true"}]""", "hi\n"));
        Assert.Equal("{hello there\n}", Run("""[{"optionName":"ADDBRACKETS"}]""", "hello there\n"));
        Assert.Equal("""{"metadata":{"app":"web"},"data":"{\"timestamp\":\"Mar  5 09:37:08\",\"hostname\":\"h\",\"program\":\"p\",\"processid\":\"7\",\"message\":\"m\"}"}""" + "\n",
            Run("""[{"optionName":"SINGLELINE"},{"optionName":"LOGTOJSON","logFormat":"SYSLOG"},{"optionName":"ADDMETADATA","metadata":{"app":"web"}}]""",
                "Mar  5 09:37:08 h p[7]: m\n"));
    }

    [Theory]
    [InlineData("""[{"optionName":"UPPERCASE"}]""", "flows[0].dataProcessingOptions[0].optionName UPPERCASE is not one of")]
    [InlineData("""[{"optionName":"CSVTOJSON"}]""", "flows[0].dataProcessingOptions[0].customFieldNames is required for CSVTOJSON")]
    [InlineData("""[{"optionName":"CSVTOJSON","customFieldNames":["a"],"delim":";"}]""", "flows[0].dataProcessingOptions[0].delim is not a setting of CSVTOJSON")]
    [InlineData("""[{"optionName":"LOGTOJSON"}]""", "flows[0].dataProcessingOptions[0].logFormat is required")]
    [InlineData("""[{"optionName":"LOGTOJSON","logFormat":"NGINX"}]""", "flows[0].dataProcessingOptions[0].logFormat must be one of")]
    [InlineData("""[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","matchPattern":"(x)"}]""", "customFieldNames is required when matchPattern is given")]
    [InlineData("""[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","customFieldNames":["a"]}]""", "customFieldNames must name 5 fields for SYSLOG")]
    [InlineData("""[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","jsonFormat":"YAML"}]""", "jsonFormat must be COMPACT or PRETTYPRINT")]
    [InlineData("""[{"optionName":"SINGLELINE","parseOptions":"SQUASH"}]""", "parseOptions must be NO_TRIM or ESCAPE_NEW_LINE")]
    [InlineData("""[{"optionName":"USINGPLUGGIN","className":"x"}]""", "USINGPLUGGIN loads Java classes")]
    [InlineData("""["SINGLELINE"]""", "flows[0].dataProcessingOptions[0] must be an object")]
    public void Configuration_errors_name_the_key(string options, string message) =>
        Assert.Contains(message, Assert.Throws<AgentConfigurationException>(() => DataProcessing.Parse(JsonNode.Parse(options)!.AsArray(), "flows[0].dataProcessingOptions")).Message);

    [Fact]
    public async Task Ec2_metadata_is_merged_into_JSON_records_from_a_loopback_metadata_service()
    {
        var port = StartAndStop(new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0));
        using var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                var context = await listener.GetContextAsync();
                var body = context.Request.HttpMethod == "PUT" ? "token-1"
                    : context.Request.Headers["X-aws-ec2-metadata-token"] == "token-1"
                        ? """{"privateIp":"10.0.0.5","availabilityZone":"us-east-1a","instanceId":"i-0abc","instanceType":"t3.micro","accountId":"123456789012","imageId":"ami-1","region":"us-east-1"}"""
                        : "";
                var bytes = Encoding.UTF8.GetBytes(body);
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
        var previous = Environment.GetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT", $"http://127.0.0.1:{port}/");
        try
        {
            var output = Run("""[{"optionName":"CSVTOJSON","customFieldNames":["a"]},{"optionName":"ADDEC2METADATA"}]""", "x\n");
            Assert.Matches("""^\{"a":"x","privateIp":"10.0.0.5","availabilityZone":"us-east-1a","instanceId":"i-0abc","instanceType":"t3.micro","accountId":"123456789012","amiId":"ami-1","region":"us-east-1","metadataTimestamp":"[0-9T:-]+\+0000"\}\n$""", output);
            await serving;
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT", previous);
        }
    }

    private static int StartAndStop(System.Net.Sockets.TcpListener probe)
    {
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    [Fact]
    public void Ec2_metadata_without_a_metadata_service_is_a_start_up_error()
    {
        // A loopback port nothing listens on: the test never reaches the link-local default.
        var previous = Environment.GetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/");
        try
        {
            var e = Assert.Throws<AgentConfigurationException>(() => DataProcessing.Parse(JsonNode.Parse("""[{"optionName":"ADDEC2METADATA"}]""")!.AsArray(), "flows[0].dataProcessingOptions"));
            Assert.Contains("none answered at http://127.0.0.1:9/", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT", previous);
        }
    }

    /// <summary>Found by coverage-guided fuzzing (bench/Millrace.Fuzz, target agent-json): a repeated key crashed the
    /// agent with an ArgumentException instead of a configuration error.</summary>
    [Fact]
    public void A_repeated_key_in_agent_json_is_a_configuration_error()
    {
        const string Text = """{"flows":[{"filePattern":"/tmp/a.log","kinesisStream":"s","dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"SYSLOG","logFormat":"SYSLOG"}]}]}""";
        var e = Assert.Throws<AgentConfigurationException>(() => AgentConfiguration.Parse(Text, "/tmp"));
        Assert.Contains("logFormat", e.Message, StringComparison.Ordinal);
    }
}
