using System.Net;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Fidelity;

/// <summary>What a case's setup and request see: the client, a fresh stream name, the clock (ManualClock
/// server only) and values the setup leaves for the request.</summary>
public sealed class FidelityContext(KinesisJsonClient client, string stream, ManualClock? clock)
{
    public const string Account = "000000000000";
    public const string Region = "us-east-1";

    public KinesisJsonClient Client { get; } = client;

    /// <summary>A stream name no other case uses (not created until the setup creates it).</summary>
    public string Stream { get; } = stream;

    public string StreamArn => ArnOf(Stream);

    public ManualClock Clock => clock ?? throw new InvalidOperationException("this case does not run on the ManualClock server");

    public Dictionary<string, string> Values { get; } = [];

    public static string ArnOf(string stream) => $"arn:aws:kinesis:{Region}:{Account}:stream/{stream}";

    /// <summary>CreateStream, retrying the control-plane rate limit (bounded) as clients do.</summary>
    public async Task CreateStreamAsync(int shards = 1, string? name = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var response = await Client.CallAsync("CreateStream", new { StreamName = name ?? Stream, ShardCount = shards });
            if (response.Status == HttpStatusCode.OK)
            {
                return;
            }

            if (response.ErrorType != "LimitExceededException" || attempt >= 50)
            {
                throw new Xunit.Sdk.XunitException($"setup CreateStream failed: {response}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>PutRecord to the case's stream; returns the sequence number.</summary>
    public async Task<string> PutAsync(string data = "eA==", string key = "k") =>
        (await Client.OkAsync("PutRecord", new { StreamName = Stream, PartitionKey = key, Data = data }))["SequenceNumber"]!.GetValue<string>();

    public async Task<string> IteratorAsync(string type = "TRIM_HORIZON", string shardId = "shardId-000000000000") =>
        (await Client.OkAsync("GetShardIterator", new { StreamName = Stream, ShardId = shardId, ShardIteratorType = type }))["ShardIterator"]!.GetValue<string>();

    public Task<JsonNode> OkAsync(string operation, object body) => Client.OkAsync(operation, body);
}
