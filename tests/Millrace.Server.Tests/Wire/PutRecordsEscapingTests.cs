using System.Net;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Wire;

/// <summary>
/// PutRecords reads partition keys and data straight from the request's raw JSON when it can; JSON escapes in either
/// must give the same records, shards and hash routing as the plain spelling.
/// </summary>
public sealed class PutRecordsEscapingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Escaped_partition_keys_and_data_are_stored_as_their_plain_values()
    {
        using var client = fixture.NewClient();
        var stream = ServerFixture.UniqueName("escapes");
        await client.OkAsync("CreateStream", new { StreamName = stream, ShardCount = 4 });
        await WaitActiveAsync(client, stream);

        // "é-key" escaped, base64 "AQID/w==" with an escaped slash, next to their plain spellings.
        var body = $$"""
            {"StreamName":"{{stream}}","Records":[
              {"PartitionKey":"\u00e9-key","Data":"AQID\/w=="},
              {"PartitionKey":"é-key","Data":"AQID/w=="},
              {"PartitionKey":"plain","Data":"aGVsbG8="}]}
            """;
        var put = await client.SendRawAsync("PutRecords", body);
        Assert.Equal(HttpStatusCode.OK, put.Status);
        var records = put.Json!["Records"]!.AsArray();
        Assert.Equal(0, put.Json!["FailedRecordCount"]!.GetValue<int>());
        Assert.Equal(records[0]!["ShardId"]!.GetValue<string>(), records[1]!["ShardId"]!.GetValue<string>());

        var shard = records[0]!["ShardId"]!.GetValue<string>();
        var it = await client.OkAsync("GetShardIterator", new { StreamName = stream, ShardId = shard, ShardIteratorType = "TRIM_HORIZON" });
        var got = await client.OkAsync("GetRecords", new { ShardIterator = it["ShardIterator"]!.GetValue<string>() });
        var read = got["Records"]!.AsArray().Where(r => r!["PartitionKey"]!.GetValue<string>() == "é-key").ToList();
        Assert.Equal(2, read.Count);
        Assert.All(read, r => Assert.Equal("AQID/w==", r!["Data"]!.GetValue<string>()));
    }

    private static async Task WaitActiveAsync(KinesisJsonClient client, string stream)
    {
        for (int i = 0; i < 100; i++)
        {
            var d = await client.OkAsync("DescribeStreamSummary", new { StreamName = stream });
            if (d["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>() == "ACTIVE")
            {
                return;
            }

            await Task.Delay(50);
        }
    }
}
