using Millrace.Aggregation;
using Millrace.Client;
using Millrace.Client.Auth;

namespace Millrace.Producer.Tests;

/// <summary>Clients, streams and a full read-back (GetRecords + Deaggregator) against a real server.</summary>
internal static class ProducerTestSupport
{
    public static AwsClientOptions OptionsFor(MillraceProcess server) => new()
    {
        Region = "us-east-1",
        ServiceUrl = new Uri(server.Endpoint),
        Credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret")),
    };

    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public static async Task<string> CreateStreamAsync(KinesisClient client, string prefix, int shards)
    {
        var name = UniqueName(prefix);
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = name, ShardCount = shards });
        for (int i = 0; i < 200; i++)
        {
            var d = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = name });
            if (d.StreamDescriptionSummary?.StreamStatus == "ACTIVE")
            {
                return name;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"stream {name} did not become ACTIVE");
    }

    public static async Task<List<Shard>> ListShardsAsync(KinesisClient client, string stream)
    {
        var shards = new List<Shard>();
        string? token = null;
        do
        {
            var page = await client.ListShardsAsync(token is null ? new ListShardsRequest { StreamName = stream } : new ListShardsRequest { NextToken = token });
            shards.AddRange(page.Shards ?? []);
            token = page.NextToken;
        }
        while (token is not null);
        return shards;
    }

    /// <summary>Every record of every shard (open and closed) from TRIM_HORIZON, deaggregated, in shard order.</summary>
    public static async Task<Dictionary<string, List<DeaggregatedRecord>>> ReadAllAsync(KinesisClient client, string stream)
    {
        var result = new Dictionary<string, List<DeaggregatedRecord>>();
        foreach (var shard in await ListShardsAsync(client, stream))
        {
            var records = new List<DeaggregatedRecord>();
            var iterator = (await client.GetShardIteratorAsync(new GetShardIteratorRequest
            {
                StreamName = stream,
                ShardId = shard.ShardId,
                ShardIteratorType = "TRIM_HORIZON",
            })).ShardIterator;
            for (int calls = 0; iterator is not null && calls < 100_000; calls++)
            {
                var page = await client.GetRecordsAsync(new GetRecordsRequest { ShardIterator = iterator, Limit = 10000 });
                records.AddRange(Deaggregator.Deaggregate(page.Records ?? []));
                iterator = page.NextShardIterator;
                if ((page.Records is null || page.Records.Count == 0) && page.MillisBehindLatest == 0)
                {
                    break;
                }
            }

            result[shard.ShardId!] = records;
        }

        return result;
    }
}
