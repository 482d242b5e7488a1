using System.Globalization;
using System.Text;
using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Producer;

// Usage: NumberProducer <stream> <first> <last>
// Puts the records "number <n>" for n = first..last, partition key n, and waits for every one to be acknowledged.
var stream = args[0];
var first = int.Parse(args[1], CultureInfo.InvariantCulture);
var last = int.Parse(args[2], CultureInfo.InvariantCulture);
var client = new AwsClientOptions
{
    ServiceUrl = new Uri(Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL") ?? "http://127.0.0.1:4567"),
    Region = Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1",
    Credentials = DefaultCredentialsChain.Create(profile: null),
};

await using var producer = new KinesisProducer(new KinesisProducerConfiguration(), client);
var results = new List<Task<UserRecordResult>>(last - first + 1);
for (var n = first; n <= last; n++)
{
    // Awaits room in the producer's buffer (back-pressure), then returns the record's own task.
    results.Add(await producer.EnqueueUserRecordAsync(stream, n.ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes($"number {n}")));
}

await producer.FlushAsync();
var put = await Task.WhenAll(results);
var perShard = put.GroupBy(r => r.ShardId).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}");
var aggregates = put.Select(r => r.SequenceNumber).Distinct().Count();
Console.WriteLine($"put numbers {first}..{last}: {put.Length} user records in {aggregates} Kinesis records ({string.Join(", ", perShard)})");
