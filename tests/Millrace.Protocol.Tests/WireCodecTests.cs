using System.Formats.Cbor;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Protocol.Tests;

/// <summary>The model-driven codecs of each protocol, request parsing and response writing.</summary>
public class WireCodecTests
{
    private static readonly DateTimeOffset Time = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static ProtocolRequest Request(string method, string target, string contentType = "", byte[]? body = null, Dictionary<string, string>? headers = null)
    {
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var all = new Dictionary<string, string>(headers ?? [], StringComparer.OrdinalIgnoreCase);
        if (contentType.Length > 0)
        {
            all["Content-Type"] = contentType;
        }

        return new ProtocolRequest
        {
            Method = method,
            Path = q < 0 ? target : target[..q],
            Query = ProtocolRequest.ParseQuery(q < 0 ? null : target[(q + 1)..]),
            Headers = all,
            Body = body ?? [],
        };
    }

    private static string Text(ProtocolResponse response) => Encoding.UTF8.GetString(response.Body);

    // ---------------------------------------------------------------- query

    [Fact]
    public void QueryParsesNestedListsOfStructures()
    {
        var cw = ServiceModel.Get("cloudwatch");
        var codec = new QueryCodec(cw);
        var form = "Action=PutMetricData&Version=2010-08-01&Namespace=App%2FTest"
            + "&MetricData.member.1.MetricName=Latency&MetricData.member.1.Value=1.5&MetricData.member.1.Timestamp=2026-01-02T03%3A04%3A05Z"
            + "&MetricData.member.1.Dimensions.member.2.Name=B&MetricData.member.1.Dimensions.member.2.Value=2"
            + "&MetricData.member.1.Dimensions.member.1.Name=A&MetricData.member.1.Dimensions.member.1.Value=1"
            + "&MetricData.member.2.MetricName=Count&MetricData.member.2.Values.member.1=1&MetricData.member.2.Values.member.2=2&MetricData.member.2.StorageResolution=1";
        var request = Request("POST", "/", "application/x-www-form-urlencoded; charset=utf-8", Encoding.UTF8.GetBytes(form));
        var op = codec.ResolveOperation(request, out var name)!;
        Assert.Equal("PutMetricData", name);
        var input = codec.ParseInput(op, request);
        Assert.Equal("App/Test", ModelDocument.GetString(input["Namespace"]));
        var first = input["MetricData"]![0]!;
        Assert.Equal(1.5, ModelDocument.GetDouble(first["Value"]));
        Assert.Equal(Time, ModelDocument.GetTimestamp(first["Timestamp"]));
        Assert.Equal(["A=1", "B=2"], first["Dimensions"]!.AsArray().Select(d => ModelDocument.GetString(d!["Name"]) + "=" + ModelDocument.GetString(d["Value"])));
        var second = input["MetricData"]![1]!;
        Assert.Equal([1.0, 2.0], second["Values"]!.AsArray().Select(v => ModelDocument.GetDouble(v)!.Value));
        Assert.Equal(1L, ModelDocument.GetInt64(second["StorageResolution"]));

        // What the SDK would send for the same document parses back to it.
        var again = QueryForm.Write("PutMetricData", "2010-08-01", op.Input, input);
        Assert.Equal(input.ToJsonString(), QueryForm.Read(op.Input, ProtocolRequest.ParseQuery(again)).ToJsonString());
    }

    private const string SyntheticQueryModel = """
        {"metadata":{"apiVersion":"2020-01-01","endpointPrefix":"demo","protocol":"query","protocols":["query"],"xmlNamespace":"https://demo/doc/"},
         "operations":{"Op":{"name":"Op","http":{"method":"POST","requestUri":"/"},"input":{"shape":"In"},"output":{"shape":"In","resultWrapper":"OpResult"}}},
         "shapes":{
          "In":{"type":"structure","members":{"Flat":{"shape":"FlatList"},"Tags":{"shape":"TagMap"},"Attrs":{"shape":"FlatMap","locationName":"Attribute"},"Names":{"shape":"Names"},"Empty":{"shape":"Names"}}},
          "FlatList":{"type":"list","member":{"shape":"S"},"flattened":true},
          "Names":{"type":"list","member":{"shape":"S","locationName":"Name"}},
          "TagMap":{"type":"map","key":{"shape":"S"},"value":{"shape":"S"}},
          "FlatMap":{"type":"map","key":{"shape":"S","locationName":"Name"},"value":{"shape":"S","locationName":"Value"},"flattened":true},
          "S":{"type":"string"}}}
        """;

    [Fact]
    public void QueryFlattenedListsAndMapsAndEntryMaps()
    {
        var model = ServiceModel.Load(new MemoryStream(Encoding.UTF8.GetBytes(SyntheticQueryModel)));
        var op = model.GetOperation("Op");
        var input = QueryForm.Read(op.Input, ProtocolRequest.ParseQuery(
            "Action=Op&Flat.2=b&Flat.1=a&Tags.entry.1.key=k1&Tags.entry.1.value=v1&Tags.entry.2.key=k2&Tags.entry.2.value=v2"
            + "&Attribute.1.Name=n&Attribute.1.Value=x&Names.Name.1=first&Empty="));
        Assert.Equal("""{"Flat":["a","b"],"Tags":{"k1":"v1","k2":"v2"},"Attrs":{"n":"x"},"Names":["first"],"Empty":[]}""", input.ToJsonString());
        var form = QueryForm.Write("Op", "2020-01-01", op.Input, input);
        Assert.Equal(
            "Action=Op&Version=2020-01-01&Flat.1=a&Flat.2=b&Tags.entry.1.key=k1&Tags.entry.1.value=v1&Tags.entry.2.key=k2&Tags.entry.2.value=v2"
            + "&Attribute.1.Name=n&Attribute.1.Value=x&Names.Name.1=first&Empty=", form);

        var xml = Text(new QueryCodec(model).WriteOutput(op, Request("POST", "/"), input, "rid"));
        Assert.Equal(
            """<OpResponse xmlns="https://demo/doc/"><OpResult><Flat>a</Flat><Flat>b</Flat>"""
            + "<Tags><entry><key>k1</key><value>v1</value></entry><entry><key>k2</key><value>v2</value></entry></Tags>"
            + "<Attribute><Name>n</Name><Value>x</Value></Attribute><Names><Name>first</Name></Names><Empty /></OpResult>"
            + "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></OpResponse>", xml);
    }

    [Fact]
    public void QueryResponseAndErrorDocuments()
    {
        var sts = ServiceModel.Get("sts");
        var codec = new QueryCodec(sts);
        var op = sts.GetOperation("GetCallerIdentity");
        var output = new JsonObject { ["UserId"] = "U", ["Account"] = "123456789012", ["Arn"] = "arn:aws:iam::123456789012:root" };
        var response = codec.WriteOutput(op, Request("POST", "/"), output, "req-1");
        Assert.Equal("text/xml", response.ContentType);
        Assert.Equal(
            """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>"""
            + "<UserId>U</UserId><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:root</Arn></GetCallerIdentityResult>"
            + "<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>",
            Text(response));

        var error = codec.WriteError(op, Request("POST", "/"), new ServiceException("ExpiredTokenException", "expired"), "req-2");
        Assert.Equal(400, error.Status);
        Assert.Equal(
            """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredTokenException</Code>"""
            + "<Message>expired</Message></Error><RequestId>req-2</RequestId></ErrorResponse>",
            Text(error));

        var unknown = codec.ResolveOperation(Request("POST", "/", "application/x-www-form-urlencoded", "Action=Nope&Version=2011-06-15"u8.ToArray()), out var name);
        Assert.Null(unknown);
        Assert.Equal("InvalidAction", codec.UnknownOperation(name).Code);
    }

    [Fact]
    public void QueryErrorsUseTheModelsQueryCode()
    {
        var cw = ServiceModel.Get("cloudwatch");
        var xml = Text(new QueryCodec(cw).WriteError(null, Request("POST", "/"), new ServiceException("InvalidParameterValueException", "bad"), "r"));
        Assert.Contains("<Code>InvalidParameterValue</Code>", xml);

        var json = new JsonProtocolCodec(cw).WriteError(null, Request("POST", "/"), new ServiceException("InvalidParameterValue", "bad"), "r");
        Assert.Equal("""{"__type":"InvalidParameterValueException","message":"bad"}""", Text(json));
        Assert.Equal("InvalidParameterValue;Sender", json.Headers["x-amzn-query-error"]);
        Assert.Equal("application/x-amz-json-1.0", json.ContentType);
    }

    // ---------------------------------------------------------------- JSON 1.0 / 1.1

    [Fact]
    public void JsonParsesByTargetAndWritesEpochSeconds()
    {
        var kinesis = ServiceModel.Get("kinesis");
        var codec = new JsonProtocolCodec(kinesis);
        var request = Request("POST", "/", "application/x-amz-json-1.1", """{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1767323045.5}"""u8.ToArray(),
            new() { ["X-Amz-Target"] = "Kinesis_20131202.GetShardIterator" });
        var op = codec.ResolveOperation(request, out _)!;
        var input = codec.ParseInput(op, request);
        Assert.Equal(Time.AddMilliseconds(500), ModelDocument.GetTimestamp(input["Timestamp"]));

        var describe = kinesis.GetOperation("DescribeStreamSummary");
        var output = new JsonObject { ["StreamDescriptionSummary"] = new JsonObject { ["StreamName"] = "s", ["StreamCreationTimestamp"] = ModelDocument.Timestamp(Time), ["OpenShardCount"] = 2 } };
        var body = Text(codec.WriteOutput(describe, request, output, "r"));
        Assert.Equal("""{"StreamDescriptionSummary":{"StreamName":"s","StreamCreationTimestamp":1767323045,"OpenShardCount":2}}""", body);

        Assert.Null(codec.ResolveOperation(Request("POST", "/", "application/x-amz-json-1.1", [], new() { ["X-Amz-Target"] = "Kinesis_20131202.Nope" }), out var name));
        Assert.Equal("Nope", name);
        var error = codec.WriteError(null, request, codec.UnknownOperation(name), "r");
        Assert.Equal("""{"__type":"UnknownOperationException"}""", Text(error));
        Assert.Equal(400, error.Status);
    }

    [Fact]
    public void JsonTypeErrorsAreSerializationExceptions()
    {
        var kinesis = ServiceModel.Get("kinesis");
        var op = kinesis.GetOperation("DescribeStream");
        var e = Assert.Throws<ServiceException>(() => JsonBody.ReadStructure(op.Input, """{"StreamName":5}"""u8.ToArray()));
        Assert.Equal("SerializationException", e.Code);
        Assert.Equal("NUMBER_VALUE can not be converted to a String", e.ErrorMessage);
    }

    [Fact]
    public void KinesisCborBodiesUseMillisecondTimestamps()
    {
        var kinesis = ServiceModel.Get("kinesis");
        var codec = new JsonProtocolCodec(kinesis);
        var writer = new CborWriter();
        writer.WriteStartMap(null);
        writer.WriteTextString("StreamName");
        writer.WriteTextString("s");
        writer.WriteTextString("Data");
        writer.WriteByteString([1, 2, 3]);
        writer.WriteTextString("PartitionKey");
        writer.WriteTextString("k");
        writer.WriteEndMap();
        var request = Request("POST", "/", "application/x-amz-cbor-1.1", writer.Encode(), new() { ["X-Amz-Target"] = "Kinesis_20131202.PutRecord" });
        var op = codec.ResolveOperation(request, out _)!;
        var input = codec.ParseInput(op, request);
        Assert.Equal([1, 2, 3], ModelDocument.GetBytes(input["Data"]));

        var records = kinesis.GetOperation("GetRecords");
        var output = new JsonObject { ["Records"] = new JsonArray(new JsonObject { ["Data"] = ModelDocument.Blob([9]), ["PartitionKey"] = "k", ["SequenceNumber"] = "1", ["ApproximateArrivalTimestamp"] = ModelDocument.Timestamp(Time) }) };
        var response = codec.WriteOutput(records, request, output, "r");
        Assert.Equal("application/x-amz-cbor-1.1", response.ContentType);
        var reader = new CborReader(response.Body);
        reader.ReadStartMap();
        Assert.Equal("Records", reader.ReadTextString());
        reader.ReadStartArray();
        reader.ReadStartMap();
        var seen = new Dictionary<string, object>();
        while (reader.PeekState() != CborReaderState.EndMap)
        {
            var key = reader.ReadTextString();
            seen[key] = reader.PeekState() switch
            {
                CborReaderState.Tag => (reader.ReadTag(), reader.ReadInt64()),
                CborReaderState.ByteString => reader.ReadByteString()[0],
                _ => reader.ReadTextString(),
            };
        }

        Assert.Equal((CborTag.UnixTimeSeconds, Time.ToUnixTimeMilliseconds()), seen["ApproximateArrivalTimestamp"]);
        Assert.Equal((byte)9, seen["Data"]);
    }

    // ---------------------------------------------------------------- rpc-v2-cbor

    [Fact]
    public void RpcV2CborRoundTrip()
    {
        var cw = ServiceModel.Get("cloudwatch");
        var codec = new RpcV2CborCodec(cw);
        var writer = new CborWriter();
        writer.WriteStartMap(5);
        writer.WriteTextString("Namespace");
        writer.WriteTextString("App");
        writer.WriteTextString("MetricName");
        writer.WriteTextString("Latency");
        writer.WriteTextString("StartTime");
        writer.WriteTag(CborTag.UnixTimeSeconds);
        writer.WriteDouble(Time.ToUnixTimeSeconds() + 0.25);
        writer.WriteTextString("EndTime");
        writer.WriteTag(CborTag.UnixTimeSeconds);
        writer.WriteInt64(Time.ToUnixTimeSeconds() + 60);
        writer.WriteTextString("Period");
        writer.WriteInt32(60);
        writer.WriteEndMap();
        var request = Request("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricStatistics", "application/cbor", writer.Encode(),
            new() { ["smithy-protocol"] = "rpc-v2-cbor" });
        var op = codec.ResolveOperation(request, out _)!;
        Assert.Equal("GetMetricStatistics", op.Name);
        var input = codec.ParseInput(op, request);
        Assert.Equal(Time.AddMilliseconds(250), ModelDocument.GetTimestamp(input["StartTime"]));
        Assert.Equal(Time.AddSeconds(60), ModelDocument.GetTimestamp(input["EndTime"]));
        Assert.Equal(60L, ModelDocument.GetInt64(input["Period"]));

        var output = new JsonObject { ["Label"] = "Latency", ["Datapoints"] = new JsonArray(new JsonObject { ["Timestamp"] = ModelDocument.Timestamp(Time), ["Average"] = 1.5 }) };
        var response = codec.WriteOutput(op, request, output, "r");
        Assert.Equal("rpc-v2-cbor", response.Headers["smithy-protocol"]);
        Assert.Equal("application/cbor", response.ContentType);
        var back = CborBody.ReadStructure(op.Output, response.Body);
        Assert.Equal(Time, ModelDocument.GetTimestamp(back["Datapoints"]![0]!["Timestamp"]));
        Assert.Equal(1.5, ModelDocument.GetDouble(back["Datapoints"]![0]!["Average"]));

        var error = codec.WriteError(op, request, new ServiceException("InvalidParameterValue", "bad"), "r");
        var reader = new CborReader(error.Body);
        reader.ReadStartMap();
        Assert.Equal("__type", reader.ReadTextString());
        Assert.Equal("InvalidParameterValueException", reader.ReadTextString());
        Assert.Equal("message", reader.ReadTextString());
        Assert.Equal("bad", reader.ReadTextString());
        Assert.Equal("InvalidParameterValue;Sender", error.Headers["x-amzn-query-error"]);
    }

    // ---------------------------------------------------------------- rest-json

    [Fact]
    public void RestJsonLabelsHeadersQueryAndPayload()
    {
        var lambda = ServiceModel.Get("lambda");
        var codec = new RestJsonCodec(lambda);
        var request = Request("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho/invocations?Qualifier=7",
            "application/octet-stream", """{"a":1}"""u8.ToArray(), new() { ["X-Amz-Invocation-Type"] = "RequestResponse", ["X-Amz-Log-Type"] = "Tail" });
        var op = codec.ResolveOperation(request, out _)!;
        Assert.Equal("Invoke", op.Name);
        var input = codec.ParseInput(op, request);
        Assert.Equal("arn:aws:lambda:us-east-1:123456789012:function:echo", ModelDocument.GetString(input["FunctionName"]));
        Assert.Equal("7", ModelDocument.GetString(input["Qualifier"]));
        Assert.Equal("Tail", ModelDocument.GetString(input["LogType"]));
        Assert.Equal("""{"a":1}""", Encoding.UTF8.GetString(ModelDocument.GetBytes(input["Payload"])!));

        var response = codec.WriteOutput(op, request, new JsonObject { ["StatusCode"] = 202, ["FunctionError"] = "Unhandled", ["Payload"] = ModelDocument.Blob("{}"u8.ToArray()) }, "r");
        Assert.Equal(202, response.Status);
        Assert.Equal("Unhandled", response.Headers["X-Amz-Function-Error"]);
        Assert.Equal("{}", Text(response));

        var get = codec.ResolveOperation(Request("GET", "/2015-03-31/functions/echo"), out _)!;
        Assert.Equal("GetFunction", get.Name);
        var list = codec.ResolveOperation(Request("GET", "/2015-03-31/functions/"), out _)!;
        Assert.Equal("ListFunctions", list.Name);

        var tags = codec.ResolveOperation(Request("POST", "/2017-03-31/tags/arn"), out _)!;
        var tagInput = codec.ParseInput(tags, Request("POST", "/2017-03-31/tags/arn", "application/json", """{"Tags":{"a":"b"}}"""u8.ToArray()));
        Assert.Equal("""{"Resource":"arn","Tags":{"a":"b"}}""", tagInput.ToJsonString());

        var error = codec.WriteError(get, request, new ServiceException("ResourceNotFoundException", "Function not found"), "r");
        Assert.Equal(404, error.Status);
        Assert.Equal("ResourceNotFoundException", error.Headers["x-amzn-ErrorType"]);
        Assert.Equal("""{"Type":"User","message":"Function not found"}""", Text(error));
    }

    // ---------------------------------------------------------------- rest-xml

    [Fact]
    public void RestXmlGreedyLabelsPrefixHeadersAndRfc822()
    {
        var s3 = ServiceModel.Get("s3");
        var codec = new RestXmlCodec(s3);
        var request = Request("PUT", "/bucket/dir/a%20b%2Bc.txt", "text/plain", "hello"u8.ToArray(),
            new() { ["x-amz-meta-Owner"] = "me", ["x-amz-meta-team"] = "streams", ["Content-Length"] = "5" });
        var op = codec.ResolveOperation(request, out _)!;
        Assert.Equal("PutObject", op.Name);
        var input = codec.ParseInput(op, request);
        Assert.Equal("bucket", ModelDocument.GetString(input["Bucket"]));
        Assert.Equal("dir/a b+c.txt", ModelDocument.GetString(input["Key"]));
        Assert.Equal("""{"owner":"me","team":"streams"}""", input["Metadata"]!.ToJsonString());
        Assert.Equal(5L, ModelDocument.GetInt64(input["ContentLength"]));
        Assert.Equal("hello", Encoding.UTF8.GetString(ModelDocument.GetBytes(input["Body"])!));

        var head = s3.GetOperation("HeadObject");
        var response = codec.WriteOutput(head, request, new JsonObject { ["LastModified"] = ModelDocument.Timestamp(Time), ["ContentLength"] = 5, ["Metadata"] = new JsonObject { ["owner"] = "me" } }, "r");
        Assert.Equal("Fri, 02 Jan 2026 03:04:05 GMT", response.Headers["Last-Modified"]);
        Assert.Equal("5", response.Headers["Content-Length"]);
        Assert.Equal("me", response.Headers["x-amz-meta-owner"]);
        Assert.Equal("r", response.Headers["x-amz-request-id"]);

        Assert.Equal("GetBucketTagging", codec.ResolveOperation(Request("GET", "/bucket?tagging"), out _)!.Name);
        Assert.Equal("ListObjects", codec.ResolveOperation(Request("GET", "/bucket"), out _)!.Name);
        Assert.Equal("ListObjectsV2", codec.ResolveOperation(Request("GET", "/bucket?list-type=2&prefix=a"), out _)!.Name);
        Assert.Equal("GetObject", codec.ResolveOperation(Request("GET", "/bucket/k"), out _)!.Name);
    }

    [Fact]
    public void RestXmlPayloadsFlattenedListsAndErrors()
    {
        var s3 = ServiceModel.Get("s3");
        var codec = new RestXmlCodec(s3);
        var xml = """<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>b</Key><Value>2</Value></Tag></TagSet></Tagging>""";
        var request = Request("PUT", "/bucket?tagging", "application/xml", Encoding.UTF8.GetBytes(xml));
        var op = codec.ResolveOperation(request, out _)!;
        Assert.Equal("PutBucketTagging", op.Name);
        var input = codec.ParseInput(op, request);
        Assert.Equal("""{"Bucket":"bucket","Tagging":{"TagSet":[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]}}""", input.ToJsonString());

        var list = s3.GetOperation("ListObjectsV2");
        var output = new JsonObject
        {
            ["Name"] = "bucket",
            ["IsTruncated"] = false,
            ["Contents"] = new JsonArray(new JsonObject { ["Key"] = "a", ["Size"] = 1, ["LastModified"] = ModelDocument.Timestamp(Time) }, new JsonObject { ["Key"] = "b", ["Size"] = 2 }),
            ["KeyCount"] = 2,
        };
        var body = Text(codec.WriteOutput(list, request, output, "r"));
        Assert.Contains("<IsTruncated>false</IsTruncated><Contents><Key>a</Key><LastModified>2026-01-02T03:04:05Z</LastModified><Size>1</Size></Contents><Contents><Key>b</Key><Size>2</Size></Contents><Name>bucket</Name>", body);
        Assert.Contains("<KeyCount>2</KeyCount>", body);

        var error = codec.WriteError(op, request, new ServiceException("NoSuchBucket", "The specified bucket does not exist", 404) { Fields = new JsonObject { ["BucketName"] = "bucket" } }, "r1");
        Assert.Equal(404, error.Status);
        Assert.Equal(
            """<?xml version="1.0" encoding="utf-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>bucket</BucketName><RequestId>r1</RequestId></Error>""",
            Text(error));
    }

    // ---------------------------------------------------------------- dispatcher

    [Fact]
    public async Task DispatcherPicksTheProtocolValidatesAndCallsTheHandler()
    {
        var calls = new List<string>();
        var dispatcher = new ModelDispatcher(ServiceModel.Get("cloudwatch"), new Dictionary<string, OperationHandler>
        {
            ["ListMetrics"] = (input, ctx) =>
            {
                calls.Add(ctx.Protocol);
                return Task.FromResult<JsonObject?>(new JsonObject { ["Metrics"] = new JsonArray(new JsonObject { ["MetricName"] = "m" }) });
            },
        }, new ModelServiceOptions { RequestIds = () => "rid" });

        var json = await dispatcher.DispatchAsync(Request("POST", "/", "application/x-amz-json-1.0", "{}"u8.ToArray(), new() { ["X-Amz-Target"] = "GraniteServiceVersion20100801.ListMetrics" }));
        Assert.Equal("""{"Metrics":[{"MetricName":"m"}]}""", Text(json));
        var query = await dispatcher.DispatchAsync(Request("POST", "/", "application/x-www-form-urlencoded", "Action=ListMetrics&Version=2010-08-01"u8.ToArray()));
        Assert.Contains("<ListMetricsResult><Metrics><member><MetricName>m</MetricName></member></Metrics></ListMetricsResult>", Text(query));
        var cbor = await dispatcher.DispatchAsync(Request("POST", "/service/GraniteServiceVersion20100801/operation/ListMetrics", "application/cbor", [], new() { ["smithy-protocol"] = "rpc-v2-cbor" }));
        Assert.Equal(200, cbor.Status);
        Assert.Equal(["json", "query", "smithy-rpc-v2-cbor"], calls);

        var invalid = await dispatcher.DispatchAsync(Request("POST", "/", "application/x-www-form-urlencoded", "Action=ListMetrics&Namespace="u8.ToArray()));
        Assert.Equal(400, invalid.Status);
        Assert.True(Text(invalid).Contains("<Code>ValidationError</Code><Message>2 validation errors detected: Value '' at 'namespace' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:].*", StringComparison.Ordinal), Text(invalid));

        var unhandled = await dispatcher.DispatchAsync(Request("POST", "/", "application/x-amz-json-1.0", "{}"u8.ToArray(), new() { ["X-Amz-Target"] = "GraniteServiceVersion20100801.DescribeAlarms" }));
        Assert.Equal("""{"__type":"UnknownOperationException"}""", Text(unhandled));
    }

    [Fact]
    public async Task ServicesChooseTheirValidationErrorTypeAndHandlersThrowAwsErrors()
    {
        var dispatcher = new ModelDispatcher(ServiceModel.Get("kinesis"), new Dictionary<string, OperationHandler>
        {
            ["DescribeStreamSummary"] = (_, _) => throw new ServiceException("ResourceNotFoundException", "Stream s under account 123456789012 not found."),
            ["ListStreams"] = (_, _) => throw KinesisException.LimitExceeded("Rate exceeded"),
            ["ListShards"] = (_, _) => throw new InvalidOperationException("bug"),
        }, new ModelServiceOptions { ValidationErrorCode = "InvalidArgumentException", RequestIds = () => "rid" });
        ProtocolRequest Call(string op, string body) =>
            Request("POST", "/", "application/x-amz-json-1.1", Encoding.UTF8.GetBytes(body), new() { ["X-Amz-Target"] = "Kinesis_20131202." + op });

        var invalid = await dispatcher.DispatchAsync(Call("DescribeStreamSummary", """{"StreamName":"a b"}"""));
        Assert.Equal(
            """{"__type":"InvalidArgumentException","message":"1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"}""",
            Text(invalid));
        var missing = await dispatcher.DispatchAsync(Call("DescribeStreamSummary", """{"StreamName":"s"}"""));
        Assert.Equal("""{"__type":"ResourceNotFoundException","message":"Stream s under account 123456789012 not found."}""", Text(missing));
        Assert.Equal("rid", missing.Headers["x-amzn-RequestId"]);
        var limited = await dispatcher.DispatchAsync(Call("ListStreams", "{}"));
        Assert.Equal("""{"__type":"LimitExceededException","message":"Rate exceeded"}""", Text(limited));
        var bug = await dispatcher.DispatchAsync(Call("ListShards", "{}"));
        Assert.Equal(500, bug.Status);
        Assert.Equal("""{"__type":"InternalFailure"}""", Text(bug));
    }
}
