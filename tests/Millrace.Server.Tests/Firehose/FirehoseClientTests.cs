using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Firehose;

/// <summary>One <c>millrace serve</c> for the Firehose client tests; HTTP endpoints get 2 s to answer so a hanging one times out quickly.</summary>
public sealed class FirehoseServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("the server was not started");

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync("--firehose-http-timeout-seconds", "2");

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Firehose through real clients: boto3 acceptance scripts, the AWS CLI demo, the standard tools for compressed objects.</summary>
public sealed class FirehoseClientTests(FirehoseServerFixture fixture) : IClassFixture<FirehoseServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    private async Task<ExternalTool.Result> RunScriptAsync(string script, params string[] extra)
    {
        var prefix = "fh" + Guid.NewGuid().ToString("N")[..8];
        return await ExternalTool.RunAsync("python3", [S3TestSupport.ClientPath("python", script), Server.Endpoint, prefix, .. extra],
            S3TestSupport.PythonEnv, timeout: TimeSpan.FromMinutes(4));
    }

    [Fact]
    public async Task EveryOperationWithBoto3()
    {
        var result = await RunScriptAsync("firehose_api_boto3.py");
        S3TestSupport.RequireChecks(Server, result, "firehose_api_boto3.py", "create_and_describe", "legacy_s3_destination", "kinesis_source",
            "list_with_type_filter_and_paging", "put_record_and_batch", "bad_input", "update_destination", "encryption", "tags", "delete");
    }

    [Fact]
    public async Task S3DeliveryWithBoto3AndTheStandardTools()
    {
        using var downloads = S3TestSupport.NewTempDir();
        var result = await RunScriptAsync("firehose_s3_boto3.py", downloads.Path);
        S3TestSupport.RequireChecks(Server, result, "firehose_s3_boto3.py", "default_key_layout", "compression_formats",
            "custom_prefix_time_zone_and_extension", "dynamic_partitioning_with_jq_and_delimiters", "lambda_results_and_partition_keys",
            "lambda_garbage_and_timeout", "source_backup");

        var expected = await File.ReadAllBytesAsync(Path.Combine(downloads.Path, "expected.txt"));
        var gz = Directory.GetFiles(Path.Combine(downloads.Path, "GZIP")).Single();
        var gunzip = await ExternalTool.RunAsync("gunzip", ["-c", gz]);
        Assert.Equal(0, gunzip.ExitCode);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), gunzip.StdOut);

        var zip = Directory.GetFiles(Path.Combine(downloads.Path, "ZIP")).Single();
        var unzip = await ExternalTool.RunAsync("unzip", ["-p", zip]);
        Assert.Equal(0, unzip.ExitCode);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), unzip.StdOut);

        // python-snappy (Debian's, over libsnappy): the framing format, and Hadoop's blocks of raw snappy.
        foreach (var (format, mode) in new[] { ("Snappy", "framed"), ("HADOOP_SNAPPY", "hadoop") })
        {
            var file = Directory.GetFiles(Path.Combine(downloads.Path, format)).Single();
            var read = await ExternalTool.RunAsync("/usr/bin/python3", [S3TestSupport.ClientPath("python", "snappy_read.py"), mode, file]);
            Assert.True(read.ExitCode == 0, read.ToString());
            Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), read.StdOut);
        }
    }

    [Fact]
    public async Task ParquetConversionFromAGlueTableReadBackByDuckDB()
    {
        using var downloads = S3TestSupport.NewTempDir();
        var result = await RunScriptAsync("firehose_parquet_boto3.py", downloads.Path);
        S3TestSupport.RequireChecks(Server, result, "firehose_parquet_boto3.py", "creation_rules", "parquet_delivery_and_errors", "missing_table");

        // DuckDB (its own Parquet reader, bundled engine) reads what boto3 downloaded.
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(downloads.Path, "expected.json")))!.AsArray()
            .Select(e => string.Join("|", e!["ticker_symbol"], e["sector"]?.ToString() ?? "NULL", Invariant(e["price"]!.GetValue<double>()), e["volume"],
                "[" + string.Join(", ", e["tags"]!.AsArray().Select(t => t!.GetValue<string>())) + "]", Invariant(e["bid"]!.GetValue<double>()),
                e["event_time"]))
            .ToList();
        using var connection = new DuckDB.NET.Data.DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT ticker_symbol, sector, price, volume, tags::VARCHAR, quote.bid, strftime(event_time, '%Y-%m-%d %H:%M:%S') " +
            $"FROM read_parquet('{Path.Combine(downloads.Path, "data.parquet")}') ORDER BY volume";
        using var reader = command.ExecuteReader();
        var actual = new List<string>();
        while (reader.Read())
        {
            actual.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount)
                .Select(i => reader.IsDBNull(i) ? "NULL" : reader.GetValue(i) is double d ? Invariant(d) : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public async Task PutRecordBatchFastPathAndGenericPathAnswerAlike()
    {
        using var http = new HttpClient();
        async Task<(int Status, JsonNode? Body)> CallAsync(string operation, string body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Server.Endpoint) { Content = new StringContent(body) };
            request.Content.Headers.ContentType = new("application/x-amz-json-1.1");
            request.Headers.TryAddWithoutValidation("X-Amz-Target", "Firehose_20150804." + operation);
            request.Headers.TryAddWithoutValidation("Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/firehose/aws4_request, SignedHeaders=host, Signature=00");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
        }

        var name = "fast" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(200, (await CallAsync("CreateDeliveryStream", $$$"""
            {"DeliveryStreamName":"{{{name}}}","ExtendedS3DestinationConfiguration":{"RoleARN":"arn:aws:iam::000000000000:role/r","BucketARN":"arn:aws:s3:::nowhere"}}
            """)).Status);
        for (var i = 0; i < 100 && (await CallAsync("DescribeDeliveryStream", $$"""{"DeliveryStreamName":"{{name}}"}""")).Body!["DeliveryStreamDescription"]!["DeliveryStreamStatus"]!.ToString() != "ACTIVE"; i++)
        {
            await Task.Delay(100);
        }

        // Plain (fast path; members in either order) and escaped (generic path) batches are both accepted.
        var fast = await CallAsync("PutRecordBatch", $$"""{"Records":[{"Data":"AAEC"},{"Data":""}],"DeliveryStreamName":"{{name}}"}""");
        Assert.Equal(200, fast.Status);
        Assert.Equal(0, fast.Body!["FailedPutCount"]!.GetValue<int>());
        Assert.Equal(2, fast.Body["RequestResponses"]!.AsArray().Count);
        Assert.False(fast.Body["Encrypted"]!.GetValue<bool>());
        var escaped = await CallAsync("PutRecordBatch", $$"""{"DeliveryStreamName":"{{name}}","Records":[{"Data":"\/\/\/\/"}]}""");
        Assert.Equal(200, escaped.Status);
        Assert.Single(escaped.Body!["RequestResponses"]!.AsArray());
        Assert.NotEqual(fast.Body["RequestResponses"]![0]!["RecordId"]!.ToString(), escaped.Body["RequestResponses"]![0]!["RecordId"]!.ToString());

        // What the fast path declines gets the generic path's (AWS's) errors.
        var records = string.Join(",", Enumerable.Repeat("""{"Data":"AA=="}""", 501));
        var tooMany = await CallAsync("PutRecordBatch", $$"""{"DeliveryStreamName":"{{name}}","Records":[{{records}}]}""");
        Assert.Equal(400, tooMany.Status);
        Assert.Equal("InvalidArgumentException", tooMany.Body!["__type"]!.ToString());
        Assert.Contains("500", tooMany.Body["message"]!.ToString(), StringComparison.Ordinal);
        var empty = await CallAsync("PutRecordBatch", $$"""{"DeliveryStreamName":"{{name}}","Records":[]}""");
        Assert.Equal((400, "InvalidArgumentException"), (empty.Status, empty.Body!["__type"]!.ToString()));
        var missing = await CallAsync("PutRecordBatch", """{"DeliveryStreamName":"no-such-stream","Records":[{"Data":"AA=="}]}""");
        Assert.Equal((400, "ResourceNotFoundException"), (missing.Status, missing.Body!["__type"]!.ToString()));
        var badName = await CallAsync("PutRecordBatch", """{"DeliveryStreamName":"bad name!","Records":[{"Data":"AA=="}]}""");
        Assert.Equal((400, "InvalidArgumentException"), (badName.Status, badName.Body!["__type"]!.ToString()));
    }

    private static string Invariant(double d) => d.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task TutorialPipelineFromATwoShardStream()
    {
        var result = await RunScriptAsync("firehose_tutorial_boto3.py");
        S3TestSupport.RequireChecks(Server, result, "firehose_tutorial_boto3.py", "setup", "gzipped_json_records_arrive_byte_for_byte", "kpl_records_are_deaggregated");
    }

    [Fact]
    public async Task HttpEndpointThatFailsTimesOutAndRecovers()
    {
        var result = await RunScriptAsync("firehose_http_boto3.py");
        S3TestSupport.RequireChecks(Server, result, "firehose_http_boto3.py", "fails_times_out_and_recovers", "failed_data_goes_to_s3_after_retry_duration", "all_data_backup");
    }

    /// <summary>
    /// The course's demo with the AWS CLI: a Node.js transformation written as in the tutorial (callback style,
    /// <c>new Buffer(record.data, 'base64')</c>), a DirectPut delivery stream to S3, <c>aws firehose put-record
    /// --cli-binary-format raw-in-base64-out --record Data=100</c>; after the buffer interval (60 s: the CLI's model keeps the old minimum) the object holds <c>100\n</c>.
    /// </summary>
    [Fact]
    public async Task CourseDemoWithTheAwsCliAndANodeTransformation()
    {
        // The tutorial's function, as the firehose-transform example ships it.
        var handler = await File.ReadAllTextAsync(Path.Combine(ExternalTool.RepositoryRoot, "examples", "firehose-transform", "index.js"));
        using var work = S3TestSupport.NewTempDir();
        var id = Guid.NewGuid().ToString("N")[..8];
        var bucket = "demo-firehose-" + id;
        var function = "demo-transform-" + id;
        var stream = "demo-firehose-" + id;
        var zipPath = Path.Combine(work.Path, "function.zip");
        using (var archive = ZipFile.Open(zipPath, ZipArchiveMode.Create))
        {
            await using var entry = new StreamWriter(archive.CreateEntry("index.js").Open());
            await entry.WriteAsync(handler);
        }

        await Aws("s3", "mb", "s3://" + bucket);
        var functionArn = JsonDocument.Parse(await Aws("lambda", "create-function", "--function-name", function, "--runtime", "nodejs20.x",
            "--handler", "index.handler", "--role", "arn:aws:iam::000000000000:role/firehose-lambda", "--timeout", "60",
            "--zip-file", "fileb://" + zipPath)).RootElement.GetProperty("FunctionArn").GetString()!;
        await Aws("lambda", "wait", "function-active-v2", "--function-name", function);
        var configuration = JsonSerializer.Serialize(new
        {
            RoleARN = "arn:aws:iam::000000000000:role/firehose-delivery-role",
            BucketARN = "arn:aws:s3:::" + bucket,
            BufferingHints = new { SizeInMBs = 1, IntervalInSeconds = 60 }, // the CLI's model still says 60-900
            ProcessingConfiguration = new
            {
                Enabled = true,
                Processors = new[]
                {
                    new { Type = "Lambda", Parameters = new[] { new { ParameterName = "LambdaArn", ParameterValue = functionArn + ":$LATEST" } } },
                },
            },
        });
        await Aws("firehose", "create-delivery-stream", "--delivery-stream-name", stream, "--delivery-stream-type", "DirectPut",
            "--extended-s3-destination-configuration", configuration);
        var put = JsonDocument.Parse(await Aws("firehose", "put-record", "--delivery-stream-name", stream,
            "--cli-binary-format", "raw-in-base64-out", "--record", "Data=100"));
        Assert.False(string.IsNullOrEmpty(put.RootElement.GetProperty("RecordId").GetString()));

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        string[] keys = [];
        while (DateTime.UtcNow < deadline && keys.Length == 0)
        {
            await Task.Delay(500);
            var listed = await Aws("s3api", "list-objects-v2", "--bucket", bucket); // empty output while the bucket is empty
            keys = listed.Trim().Length > 0 && JsonDocument.Parse(listed).RootElement.TryGetProperty("Contents", out var contents)
                ? [.. contents.EnumerateArray().Select(o => o.GetProperty("Key").GetString()!)]
                : [];
        }

        var key = Assert.Single(keys);
        Assert.Matches(@"^\d{4}/\d{2}/\d{2}/\d{2}/" + stream + @"-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$", key);
        var local = Path.Combine(work.Path, "object");
        await Aws("s3", "cp", $"s3://{bucket}/{key}", local);
        Assert.Equal("100\n", await File.ReadAllTextAsync(local));
        var log = await Aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/" + function, "--filter-pattern", "\"Decoded payload\"");
        Assert.Contains("Decoded payload: 100", log, StringComparison.Ordinal);
    }

    private Task<string> Aws(params string[] args) => S3TestSupport.AwsCliAsync(Server, args);
}
