using System.Globalization;
using System.Text;
using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Client.DynamoDb;
using Millrace.Consumer;

// Usage: key=value arguments (see Options below). Output lines (tab-separated, first field the kind, second the
// UTC time in ticks):
//   R ticks shard seq subseq pk data      a record handed to ProcessRecords
//   I ticks shard checkpoint             Initialize
//   C ticks shard seq subseq             a checkpoint written
//   E ticks shard                        ShardEnded, after its SHARD_END checkpoint
//   L ticks shard                        LeaseLost
//   S ticks shard                        ShutdownRequested, after its checkpoint
//   READY ticks worker | LOG ticks text | EXIT ticks ok
var options = args.Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
string Opt(string name, string fallback) => options.TryGetValue(name, out var v) ? v : fallback;
int Ms(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

var output = new Output();
var credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret"));
using var kinesis = new KinesisClient(new AwsClientOptions { Region = "us-east-1", ServiceUrl = new Uri(Opt("kinesis", "")), Credentials = credentials });
using var dynamo = new DynamoDbClient(new AwsClientOptions { Region = "us-east-1", ServiceUrl = new Uri(Opt("dynamodb", "")), Credentials = credentials });

var config = new ConsumerConfig
{
    ApplicationName = Opt("app", "app"),
    StreamName = Opt("stream", "stream"),
    WorkerId = Opt("worker", "worker-" + Environment.ProcessId),
    FailoverTime = TimeSpan.FromMilliseconds(Ms("failover-ms", 10_000)),
    LeaseTakerInterval = options.ContainsKey("taker-ms") ? TimeSpan.FromMilliseconds(Ms("taker-ms", 0)) : null,
    ShardSyncInterval = TimeSpan.FromMilliseconds(Ms("sync-ms", 60_000)),
    ParentShardPollInterval = TimeSpan.FromMilliseconds(Ms("parent-poll-ms", 10_000)),
    IdleTimeBetweenReads = TimeSpan.FromMilliseconds(Ms("idle-ms", 1500)),
    MaxRecords = Ms("max-records", 10_000),
    InitialPosition = Opt("initial", "TRIM_HORIZON") switch
    {
        "LATEST" => InitialPositionInStream.Latest,
        "AT_TIMESTAMP" => InitialPositionInStream.AtTimestamp,
        _ => InitialPositionInStream.TrimHorizon,
    },
    InitialPositionTimestamp = options.TryGetValue("timestamp-ms", out var ts) ? DateTime.UnixEpoch.AddMilliseconds(long.Parse(ts, CultureInfo.InvariantCulture)) : null,
    RetrievalMode = Opt("mode", "polling") == "fanout" ? RetrievalMode.FanOut : RetrievalMode.Polling,
    Log = text => output.Line("LOG", text.Replace('\n', ' ').Replace('\t', ' ')),
};

var factory = new Factory(output, Opt("checkpoint", "batch"), Ms("process-delay-ms", 0));
var scheduler = new Scheduler(config, factory, kinesis, dynamo);
var run = scheduler.RunAsync();
_ = scheduler.Started.ContinueWith(t => output.Line("READY", config.WorkerId), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

// stdin: "shutdown" (or its end, when the test runner is gone) starts the graceful shutdown.
var stdin = Task.Run(() =>
{
    string? line;
    while ((line = Console.In.ReadLine()) is not null && line.Trim() != "shutdown")
    {
    }
});
await Task.WhenAny(stdin, run);
var ok = true;
if (!run.IsCompleted)
{
    ok = await scheduler.StartGracefulShutdownAsync();
    await run;
}
else
{
    await run; // surfaces a startup failure
}
output.Line("EXIT", ok ? "ok" : "incomplete");
await scheduler.DisposeAsync();
return ok ? 0 : 1;

internal sealed class Output
{
    private readonly Lock _lock = new();
    private readonly TextWriter _out = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };

    public void Line(string kind, params string[] fields)
    {
        lock (_lock)
        {
            _out.Write(kind);
            _out.Write('\t');
            _out.Write(DateTime.UtcNow.Ticks.ToString(CultureInfo.InvariantCulture));
            foreach (var f in fields)
            {
                _out.Write('\t');
                _out.Write(f);
            }
            _out.Write('\n');
            _out.Flush();
        }
    }

    public void Batch(string shardId, IReadOnlyList<KinesisClientRecord> records)
    {
        var ticks = DateTime.UtcNow.Ticks.ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder(records.Count * 80);
        foreach (var r in records)
        {
            sb.Append("R\t").Append(ticks).Append('\t').Append(shardId).Append('\t').Append(r.SequenceNumber).Append('\t')
                .Append(r.SubSequenceNumber.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(r.PartitionKey).Append('\t')
                .Append(Encoding.UTF8.GetString(r.Data.Span)).Append('\n');
        }
        lock (_lock)
        {
            _out.Write(sb.ToString());
            _out.Flush();
        }
    }
}

internal sealed class Factory(Output output, string checkpointMode, int processDelayMs) : IShardRecordProcessorFactory
{
    public IShardRecordProcessor CreateProcessor() => new Processor(output, checkpointMode, processDelayMs);
}

/// <summary>Logs every record, checkpoints per the mode: "batch" (the last record of every batch and at shutdown),
/// "every:N" (exactly at every Nth record, by sequence and sub-sequence number; nothing more at shutdown), "none".</summary>
internal sealed class Processor(Output output, string checkpointMode, int processDelayMs) : IShardRecordProcessor
{
    private string _shardId = "";
    private long _count;

    public Task InitializeAsync(InitializationInput input)
    {
        _shardId = input.ShardId;
        output.Line("I", _shardId, input.ExtendedSequenceNumber.SequenceNumber, input.ExtendedSequenceNumber.SubSequenceNumber.ToString(CultureInfo.InvariantCulture));
        return Task.CompletedTask;
    }

    public async Task ProcessRecordsAsync(ProcessRecordsInput input)
    {
        if (processDelayMs > 0)
            await Task.Delay(processDelayMs);
        output.Batch(_shardId, input.Records);
        if (checkpointMode == "batch")
        {
            await input.Checkpointer.CheckpointAsync();
            var last = input.Records[^1];
            output.Line("C", _shardId, last.SequenceNumber, last.SubSequenceNumber.ToString(CultureInfo.InvariantCulture));
        }
        else if (checkpointMode.StartsWith("every:", StringComparison.Ordinal))
        {
            var n = int.Parse(checkpointMode[6..], CultureInfo.InvariantCulture);
            KinesisClientRecord? at = null;
            foreach (var r in input.Records)
            {
                if (++_count % n == 0)
                    at = r;
            }
            if (at is not null)
            {
                await input.Checkpointer.CheckpointAsync(at.SequenceNumber, at.SubSequenceNumber);
                output.Line("C", _shardId, at.SequenceNumber, at.SubSequenceNumber.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    public Task LeaseLostAsync(LeaseLostInput input)
    {
        output.Line("L", _shardId);
        return Task.CompletedTask;
    }

    public async Task ShardEndedAsync(ShardEndedInput input)
    {
        await input.Checkpointer.CheckpointAsync();
        output.Line("E", _shardId);
    }

    public async Task ShutdownRequestedAsync(ShutdownRequestedInput input)
    {
        if (checkpointMode == "batch")
            await input.Checkpointer.CheckpointAsync();
        output.Line("S", _shardId, input.Checkpointer.LastCheckpointValue.SequenceNumber,
            input.Checkpointer.LastCheckpointValue.SubSequenceNumber.ToString(CultureInfo.InvariantCulture));
    }
}
