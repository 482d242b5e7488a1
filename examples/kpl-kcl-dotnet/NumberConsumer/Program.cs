using System.Text;
using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Client.DynamoDb;
using Millrace.Consumer;

// Usage: NumberConsumer <stream> <worker id> <output file>
// One worker of the application "number-checker": takes its share of the shards' leases, appends every number it is
// handed to the output file ("<shard> <number>" per line), checkpoints after each batch, and on SIGTERM (or Ctrl-C)
// shuts down gracefully (checkpoint, then the leases are given up for the other workers).
var (stream, worker, outputPath) = (args[0], args[1], args[2]);
var options = new AwsClientOptions
{
    ServiceUrl = new Uri(Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL") ?? "http://127.0.0.1:4567"),
    Region = Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1",
    Credentials = DefaultCredentialsChain.Create(profile: null),
};
using var kinesis = new KinesisClient(options);
using var dynamo = new DynamoDbClient(options);
using var output = new StreamWriter(outputPath, append: true) { AutoFlush = true };

var config = new ConsumerConfig
{
    ApplicationName = "number-checker",
    StreamName = stream,
    WorkerId = worker,
    InitialPosition = InitialPositionInStream.TrimHorizon,
    RetrievalMode = RetrievalMode.Polling,
    FailoverTime = TimeSpan.FromSeconds(3),
    ShardSyncInterval = TimeSpan.FromSeconds(2),
    ParentShardPollInterval = TimeSpan.FromSeconds(1),
    IdleTimeBetweenReads = TimeSpan.FromMilliseconds(250),
};
await using var scheduler = new Scheduler(config, new NumberProcessorFactory(worker, output), kinesis, dynamo);
var run = scheduler.RunAsync();

using var stop = new CancellationTokenSource();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
await Task.WhenAny(run, Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default));
if (!run.IsCompleted)
{
    await scheduler.StartGracefulShutdownAsync();
}

await run;
Console.WriteLine($"{worker}: shut down");

internal sealed class NumberProcessorFactory(string worker, StreamWriter output) : IShardRecordProcessorFactory
{
    public IShardRecordProcessor CreateProcessor() => new NumberProcessor(worker, output);
}

/// <summary>Writes each number with its shard; checkpoints after each batch and at the end of a shard (after a split).</summary>
internal sealed class NumberProcessor(string worker, StreamWriter output) : IShardRecordProcessor
{
    private string _shard = "";

    public Task InitializeAsync(InitializationInput input)
    {
        _shard = input.ShardId;
        Console.WriteLine($"{worker}: processing {_shard} from {input.ExtendedSequenceNumber.SequenceNumber}");
        return Task.CompletedTask;
    }

    public async Task ProcessRecordsAsync(ProcessRecordsInput input)
    {
        var lines = new StringBuilder();
        foreach (var r in input.Records)
        {
            // KPL aggregates are already opened: one KinesisClientRecord per user record.
            lines.Append(_shard).Append(' ').Append(Encoding.UTF8.GetString(r.Data.Span).Replace("number ", "", StringComparison.Ordinal)).Append('\n');
        }

        lock (output)
        {
            output.Write(lines.ToString());
        }

        await input.Checkpointer.CheckpointAsync();
    }

    public Task LeaseLostAsync(LeaseLostInput input) => Task.CompletedTask;

    public async Task ShardEndedAsync(ShardEndedInput input)
    {
        Console.WriteLine($"{worker}: {_shard} ended (split); its children start now");
        await input.Checkpointer.CheckpointAsync();
    }

    public Task ShutdownRequestedAsync(ShutdownRequestedInput input) => input.Checkpointer.CheckpointAsync();
}
