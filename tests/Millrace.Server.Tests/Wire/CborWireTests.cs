using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Wire;

/// <summary>
/// <c>application/x-amz-cbor-1.1</c> against a real server, with raw CBOR over HTTP encoded the way the AWS Java SDK
/// v1 encodes it (see <see cref="KinesisCborClient"/>; the byte-level vectors are in
/// <c>Millrace.Protocol.Tests/CborConformanceTests</c>). No Java SDK can run here, so this is the conformance suite.
/// </summary>
public sealed class CborWireTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static Dictionary<string, object?> Map(params (string Key, object? Value)[] members) =>
        members.ToDictionary(m => m.Key, m => m.Value);

    private static byte[] Bytes(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)((i * 31) + seed))];

    [Fact]
    public async Task StreamLifecycleAndRecordsRoundTripOverCbor()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var name = ServerFixture.UniqueName("cbor");

        var created = await cbor.CallAsync("CreateStream", Map(("StreamName", name), ("ShardCount", 1)));
        Assert.Equal(HttpStatusCode.OK, created.Status);
        Assert.Empty(created.Body);

        var summary = (Dictionary<string, object?>)(await cbor.OkAsync("DescribeStreamSummary", Map(("StreamName", name))))["StreamDescriptionSummary"]!;
        Assert.Equal(name, summary["StreamName"]);
        Assert.Equal("ACTIVE", summary["StreamStatus"]);
        Assert.Equal(1L, summary["OpenShardCount"]);
        var createdAt = Assert.IsType<KinesisCborClient.Timestamp>(summary["StreamCreationTimestamp"]);

        // The same instant as the JSON answer (epoch seconds with ms fractions), in integer milliseconds.
        using var json = fixture.NewClient();
        var jsonSummary = (await json.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
        Assert.Equal(decimal.Parse(jsonSummary["StreamCreationTimestamp"]!.ToJsonString(), CultureInfo.InvariantCulture) * 1000m, createdAt.EpochMilliseconds);

        var first = Bytes(300, 7);
        var put = await cbor.OkAsync("PutRecord", Map(("StreamName", name), ("Data", first), ("PartitionKey", "k")));
        Assert.Equal("shardId-000000000000", put["ShardId"]);
        var firstSequence = Assert.IsType<string>(put["SequenceNumber"]);

        byte[][] batch = [[], Bytes(1, 1), Bytes(70_000, 3)];
        var puts = await cbor.OkAsync("PutRecords", Map(
            ("StreamName", name),
            ("Records", batch.Select((data, i) => Map(("Data", data), ("PartitionKey", "p" + i))).ToList())));
        Assert.Equal(0L, puts["FailedRecordCount"]);
        var entries = Assert.IsType<List<object?>>(puts["Records"]);
        Assert.Equal(3, entries.Count);

        var iterator = await cbor.OkAsync("GetShardIterator", Map(("StreamName", name), ("ShardId", "shardId-000000000000"), ("ShardIteratorType", "TRIM_HORIZON")));
        var records = await cbor.OkAsync("GetRecords", Map(("ShardIterator", iterator["ShardIterator"]), ("Limit", 100)));
        Assert.IsType<string>(records["NextShardIterator"]);
        Assert.Equal(0L, records["MillisBehindLatest"]);
        var got = Assert.IsType<List<object?>>(records["Records"]).Cast<Dictionary<string, object?>>().ToList();
        Assert.Equal(4, got.Count);
        Assert.Equal(first, got[0]["Data"]);
        Assert.Equal(firstSequence, got[0]["SequenceNumber"]);
        Assert.Equal("k", got[0]["PartitionKey"]);
        for (int i = 0; i < batch.Length; i++)
        {
            Assert.Equal(batch[i], got[i + 1]["Data"]);
            Assert.Equal(((Dictionary<string, object?>)entries[i]!)["SequenceNumber"], got[i + 1]["SequenceNumber"]);
        }

        // Arrival timestamps come back as tag 1 + integer ms, and go back in the same form for AT_TIMESTAMP.
        var arrival = Assert.IsType<KinesisCborClient.Timestamp>(got[1]["ApproximateArrivalTimestamp"]);
        var atTimestamp = await cbor.OkAsync("GetShardIterator", Map(
            ("StreamName", name), ("ShardId", "shardId-000000000000"), ("ShardIteratorType", "AT_TIMESTAMP"), ("Timestamp", arrival)));
        var fromTimestamp = await cbor.OkAsync("GetRecords", Map(("ShardIterator", atTimestamp["ShardIterator"])));
        var firstAtTimestamp = (Dictionary<string, object?>)((List<object?>)fromTimestamp["Records"]!)[0]!;
        Assert.True(arrival.EpochMilliseconds <= ((KinesisCborClient.Timestamp)firstAtTimestamp["ApproximateArrivalTimestamp"]!).EpochMilliseconds);
    }

    [Fact]
    public async Task ValidationErrorIsACborMapWithAwsWording()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var response = await cbor.CallAsync("PutRecord", Map(("StreamName", "s"), ("Data", new byte[] { 1 }), ("PartitionKey", "")));
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(KinesisCborClient.ContentType, response.MediaType);
        Assert.Equal(["__type", "message"], response.Map.Keys);
        Assert.Equal("ValidationException", response.ErrorType);
        Assert.Equal("1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
            response.ErrorMessage);
    }

    [Fact]
    public async Task MissingStreamIsResourceNotFoundAsACborMap()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var response = await cbor.CallAsync("DescribeStreamSummary", Map(("StreamName", "does-not-exist")));
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(KinesisCborClient.ContentType, response.MediaType);
        Assert.Equal("ResourceNotFoundException", response.ErrorType);
        Assert.Equal("Stream does-not-exist under account 000000000000 not found.", response.ErrorMessage);
    }

    [Theory]
    [InlineData("A1 61")]          // truncated
    [InlineData("A0 A0")]          // two root items
    [InlineData("A1 01 02")]       // integer key
    [InlineData("1C")]             // reserved encoding
    public async Task UnreadableCborIsSerializationException(string hex)
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var response = await cbor.SendRawAsync("ListStreams", Convert.FromHexString(hex.Replace(" ", "")));
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal(KinesisCborClient.ContentType, response.MediaType);
        Assert.Equal("SerializationException", response.ErrorType);
    }

    [Fact]
    public async Task EmptyBodyAndUnknownOperationAnswerInCbor()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var empty = await cbor.SendRawAsync("ListStreams", []);
        Assert.Equal("SerializationException", empty.ErrorType);

        var unknown = await cbor.CallAsync("NoSuchThing", Map());
        Assert.Equal(HttpStatusCode.BadRequest, unknown.Status);
        Assert.Equal("UnknownOperationException", unknown.ErrorType);
        Assert.Equal(["__type"], unknown.Map.Keys);
    }

    [Fact]
    public async Task DataWrittenOverCborReadsBackOverJsonAndViceVersa()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        using var json = fixture.NewClient();
        var name = ServerFixture.UniqueName("mixed");
        await json.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });

        var viaCbor = Bytes(1000, 11);
        var viaJson = Bytes(1000, 13);
        await cbor.OkAsync("PutRecord", Map(("StreamName", name), ("Data", viaCbor), ("PartitionKey", "c")));
        await json.OkAsync("PutRecord", new { StreamName = name, Data = Convert.ToBase64String(viaJson), PartitionKey = "j" });

        var jsonIterator = (await json.OkAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        var jsonRecords = (await json.OkAsync("GetRecords", new { ShardIterator = jsonIterator }))["Records"]!.AsArray();
        Assert.Equal(Convert.ToBase64String(viaCbor), jsonRecords[0]!["Data"]!.GetValue<string>());
        Assert.Equal(Convert.ToBase64String(viaJson), jsonRecords[1]!["Data"]!.GetValue<string>());

        var cborIterator = await cbor.OkAsync("GetShardIterator", Map(("StreamName", name), ("ShardId", "shardId-000000000000"), ("ShardIteratorType", "TRIM_HORIZON")));
        var cborRecords = ((List<object?>)(await cbor.OkAsync("GetRecords", Map(("ShardIterator", cborIterator["ShardIterator"]))))["Records"]!)
            .Cast<Dictionary<string, object?>>().ToList();
        Assert.Equal(viaCbor, cborRecords[0]["Data"]);
        Assert.Equal(viaJson, cborRecords[1]["Data"]);

        // Both views agree on sequence numbers and on the arrival instant (seconds vs integer milliseconds).
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal(jsonRecords[i]!["SequenceNumber"]!.GetValue<string>(), cborRecords[i]["SequenceNumber"]);
            var seconds = decimal.Parse(jsonRecords[i]!["ApproximateArrivalTimestamp"]!.ToJsonString(), CultureInfo.InvariantCulture);
            Assert.Equal(seconds * 1000m, ((KinesisCborClient.Timestamp)cborRecords[i]["ApproximateArrivalTimestamp"]!).EpochMilliseconds);
        }

        // An iterator issued over one protocol works over the other.
        var crossed = await json.OkAsync("GetRecords", new { ShardIterator = (string)cborIterator["ShardIterator"]! });
        Assert.Equal(2, crossed["Records"]!.AsArray().Count);
    }

    [Fact]
    public async Task ListStreamsAndListShardsOverCbor()
    {
        using var cbor = new KinesisCborClient(fixture.Endpoint);
        var name = ServerFixture.UniqueName("list");
        await cbor.OkAsync("CreateStream", Map(("StreamName", name), ("ShardCount", 2)));

        var streams = await cbor.OkAsync("ListStreams", Map(("Limit", 10_000)));
        Assert.Contains(name, Assert.IsType<List<object?>>(streams["StreamNames"]));
        Assert.IsType<bool>(streams["HasMoreStreams"]);

        var shards = await cbor.OkAsync("ListShards", Map(("StreamName", name)));
        var list = Assert.IsType<List<object?>>(shards["Shards"]).Cast<Dictionary<string, object?>>().ToList();
        Assert.Equal(["shardId-000000000000", "shardId-000000000001"], list.Select(s => s["ShardId"]));
        Assert.IsType<string>(((Dictionary<string, object?>)list[1]["HashKeyRange"]!)["EndingHashKey"]);
    }
}
