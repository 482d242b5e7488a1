using System.Text;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Durability;

/// <summary>A clean stop (SIGTERM) flushes and exits 0; streams, records and iterators survive the restart.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task StreamsRecordsAndIteratorsSurviveACleanRestart()
    {
        await using var server = await MillraceProcess.StartAsync();
        string iterator;
        var sent = Enumerable.Range(0, 100).Select(i => "record-" + i).ToList();
        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            await client.OkAsync("CreateStream", new { StreamName = "keep", ShardCount = 1 });
            await client.OkAsync("PutRecords", new { StreamName = "keep", Records = sent.Select(s => new { PartitionKey = s, Data = Convert.ToBase64String(Encoding.UTF8.GetBytes(s)) }).ToArray() });
            iterator = (await client.OkAsync("GetShardIterator", new { StreamName = "keep", ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        }

        Assert.Equal(0, await server.StopAsync());
        Assert.Contains(server.Output, line => line.Contains("stopping", StringComparison.OrdinalIgnoreCase));
        await server.RestartAsync();

        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            var summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = "keep" }))["StreamDescriptionSummary"]!;
            Assert.Equal("ACTIVE", summary["StreamStatus"]!.GetValue<string>());
            var page = await client.OkAsync("GetRecords", new { ShardIterator = iterator });
            var read = page["Records"]!.AsArray().Select(r => Encoding.UTF8.GetString(Convert.FromBase64String(r!["Data"]!.GetValue<string>()))).ToList();
            Assert.Equal(sent, read);

            // New records after the restart get higher sequence numbers than everything before it.
            var lastBefore = page["Records"]!.AsArray()[^1]!["SequenceNumber"]!.GetValue<string>();
            var after = (await client.OkAsync("PutRecord", new { StreamName = "keep", PartitionKey = "x", Data = Convert.ToBase64String([1]) }))["SequenceNumber"]!.GetValue<string>();
            Assert.True(string.CompareOrdinal(lastBefore, after) < 0);
        }
    }

    [Fact]
    public async Task AnUpdateCutOffBetweenItsCatalogWritesEndsActiveAfterRestart()
    {
        await using var server = await MillraceProcess.StartAsync();
        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            await client.OkAsync("CreateStream", new { StreamName = "cut", ShardCount = 1 });
        }

        Assert.Equal(0, await server.StopAsync());

        // What a crash between "UPDATING" and "ACTIVE" (e.g. StartStreamEncryption) leaves in the catalog.
        var catalog = Path.Combine(server.DataDirectory, "streams", "catalog.json");
        var text = await File.ReadAllTextAsync(catalog);
        Assert.Contains("\"status\": \"ACTIVE\"", text);
        await File.WriteAllTextAsync(catalog, text.Replace("\"status\": \"ACTIVE\"", "\"status\": \"UPDATING\"", StringComparison.Ordinal));

        await server.RestartAsync();
        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            var summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = "cut" }))["StreamDescriptionSummary"]!;
            Assert.Equal("ACTIVE", summary["StreamStatus"]!.GetValue<string>());
        }
    }
}
