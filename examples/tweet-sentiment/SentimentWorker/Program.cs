using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Client.DynamoDb;
using Millrace.Consumer;

// Usage: SentimentWorker <stream> <bucket> <expected count> <data directory>
// A worker of the application "tweet-sentiment": each record is gunzipped, scored and written to
// s3://<bucket>/enriched/dotnet/<id>.json; it stops (gracefully, checkpointing) once it has written the expected count.
var (stream, bucket, expected, data) = (args[0], args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args[3]);
var endpoint = Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL") ?? "http://127.0.0.1:4567";
var options = new AwsClientOptions
{
    ServiceUrl = new Uri(endpoint),
    Region = Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1",
    Credentials = DefaultCredentialsChain.Create(profile: null),
};
using var kinesis = new KinesisClient(options);
using var dynamo = new DynamoDbClient(options);
using var s3 = new AmazonS3Client(new EnvironmentVariablesAWSCredentials(), new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true });

var enricher = Enricher.Load(data);
var done = new TaskCompletionSource();
var processor = new TweetProcessor(enricher, s3, bucket, expected, done);
await using var scheduler = new Scheduler(
    new ConsumerConfig { ApplicationName = "tweet-sentiment", StreamName = stream, InitialPosition = InitialPositionInStream.TrimHorizon, RetrievalMode = RetrievalMode.Polling, IdleTimeBetweenReads = TimeSpan.FromMilliseconds(250) },
    processor, kinesis, dynamo);
var run = scheduler.RunAsync();
if (await Task.WhenAny(run, done.Task, Task.Delay(TimeSpan.FromSeconds(60))) != run)
{
    await scheduler.StartGracefulShutdownAsync();
}

await run;
Console.WriteLine($".NET worker: {processor.Written} enriched tweets written to s3://{bucket}/enriched/dotnet/ "
    + string.Join(", ", processor.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key} {l.Value}")));
return processor.Written >= expected ? 0 : 1;

/// <summary>The same rules as enrich.py: lexicon score, keywords that are not stop words, hashtags.</summary>
internal sealed partial class Enricher(Dictionary<string, int> lexicon, HashSet<string> stopWords)
{
    public static Enricher Load(string directory)
    {
        var lexicon = File.ReadLines(Path.Combine(directory, "lexicon.tsv"))
            .Where(l => l.Trim().Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split('\t'))
            .ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        var stop = File.ReadLines(Path.Combine(directory, "stopwords.txt")).Select(l => l.Trim()).Where(l => l.Length > 0).ToHashSet();
        return new Enricher(lexicon, stop);
    }

    [GeneratedRegex("#?[a-z0-9']+")]
    private static partial Regex Token();

    public JsonObject Enrich(JsonObject tweet)
    {
        var tokens = Token().Matches(tweet["text"]!.GetValue<string>().ToLowerInvariant()).Select(m => m.Value).ToList();
        var score = tokens.Sum(t => lexicon.GetValueOrDefault(t));
        var keywords = tokens.Where(t => !t.StartsWith('#') && t.Length >= 3 && !stopWords.Contains(t) && !lexicon.ContainsKey(t)).Distinct().Take(5);
        tweet["sentiment"] = new JsonObject { ["score"] = score, ["label"] = score > 0 ? "positive" : score < 0 ? "negative" : "neutral" };
        tweet["keywords"] = new JsonArray([.. keywords.Select(k => (JsonNode)k)]);
        tweet["hashtags"] = new JsonArray([.. tokens.Where(t => t.StartsWith('#')).Select(k => (JsonNode)k)]);
        return tweet;
    }
}

internal sealed class TweetProcessor(Enricher enricher, AmazonS3Client s3, string bucket, int expected, TaskCompletionSource done) : IShardRecordProcessorFactory
{
    private int _written;

    public int Written => Volatile.Read(ref _written);

    public Dictionary<string, int> Labels { get; } = [];

    public IShardRecordProcessor CreateProcessor() => new ShardProcessor(this);

    private async Task WriteAsync(string shardId, KinesisClientRecord record)
    {
        using var gzip = new GZipStream(new MemoryStream(record.Data.ToArray()), CompressionMode.Decompress);
        var tweet = enricher.Enrich((JsonObject)JsonNode.Parse(gzip)!);
        tweet["kinesis"] = new JsonObject { ["shardId"] = shardId, ["sequenceNumber"] = record.SequenceNumber };
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket, Key = $"enriched/dotnet/{tweet["id"]}.json", ContentBody = tweet.ToJsonString(), ContentType = "application/json",
        });
        lock (Labels)
        {
            var label = tweet["sentiment"]!["label"]!.GetValue<string>();
            Labels[label] = Labels.GetValueOrDefault(label) + 1;
        }

        if (Interlocked.Increment(ref _written) >= expected)
        {
            done.TrySetResult();
        }
    }

    private sealed class ShardProcessor(TweetProcessor owner) : IShardRecordProcessor
    {
        private string _shard = "";

        public Task InitializeAsync(InitializationInput input)
        {
            _shard = input.ShardId;
            return Task.CompletedTask;
        }

        public async Task ProcessRecordsAsync(ProcessRecordsInput input)
        {
            foreach (var r in input.Records)
            {
                await owner.WriteAsync(_shard, r);
            }

            await input.Checkpointer.CheckpointAsync();
        }

        public Task LeaseLostAsync(LeaseLostInput input) => Task.CompletedTask;

        public Task ShardEndedAsync(ShardEndedInput input) => input.Checkpointer.CheckpointAsync();

        public Task ShutdownRequestedAsync(ShutdownRequestedInput input) => input.Checkpointer.CheckpointAsync();
    }
}
