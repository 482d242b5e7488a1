using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage.Functions;

namespace Millrace.Lambda.Mappings;

/// <summary>
/// A record read from a shard, held as the JSON tokens Kinesis wrote (strings with their quotes, the arrival time as
/// a number) in the page they came from: the event is written from them without decoding or re-encoding anything.
/// </summary>
internal readonly record struct StreamRecord(ReadOnlyMemory<byte> RawSequenceNumber, ReadOnlyMemory<byte> RawPartitionKey, ReadOnlyMemory<byte> RawData,
    double Arrival, ReadOnlyMemory<byte> RawArrival)
{
    /// <summary>Its place among the records read from the shard by this runner.</summary>
    public long Ordinal { get; init; }

    /// <summary>Sequence numbers are digits: no escapes inside the quotes.</summary>
    public string SequenceNumber => Encoding.UTF8.GetString(RawSequenceNumber.Span[1..^1]);

    /// <summary>The bytes of the record's data (the token is base64, which has no escapes either).</summary>
    public byte[] DecodeData()
    {
        var base64 = RawData.Span[1..^1];
        var bytes = new byte[System.Buffers.Text.Base64.GetMaxDecodedFromUtf8Length(base64.Length)];
        System.Buffers.Text.Base64.DecodeFromUtf8(base64, bytes, out _, out var written);
        return bytes.AsSpan(0, written).ToArray();
    }

    /// <summary>What the record adds to an event's JSON, roughly.</summary>
    public int EventBytes => RawData.Length + RawPartitionKey.Length + 600;

    /// <summary>A lane for ParallelizationFactor: the same partition key always gets the same lane.</summary>
    public int Lane(int lanes)
    {
        var hash = new HashCode();
        hash.AddBytes(RawPartitionKey.Span);
        return (int)((uint)hash.ToHashCode() % (uint)lanes);
    }
}

/// <summary>
/// Runs one event-source mapping: finds the stream's shards (again every second, so resharding is followed),
/// polls each shard whose parents are done, and invokes the function with batches in AWS's event shape, one batch
/// per shard in flight. Checkpoints are stored durably as batches finish, so after a restart (kill -9 included)
/// processing resumes after the last checkpointed batch: at least once, nothing skipped, in order.
/// </summary>
internal sealed class MappingRunner : IAsyncDisposable
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan ShardDiscovery = TimeSpan.FromSeconds(1);
    private const int MaxPayloadBytes = 6 * 1024 * 1024 - 64 * 1024;
    private const string UnreadableSource = "PROBLEM: Lambda is unable to read the event source: ";

    private readonly EventSourceMappings _owner;
    private readonly string _id;
    private readonly JsonObject _document;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Task> _shards = new(StringComparer.Ordinal);
    private readonly string _streamArn;
    private readonly string? _consumerArn;
    private readonly string _functionName;
    private readonly string? _qualifier;
    private readonly EventFilter? _filter;
    private readonly IKinesisCalls _kinesis;
    private Task _loop = Task.CompletedTask;

    public MappingRunner(EventSourceMappings owner, string id, JsonObject document)
    {
        _owner = owner;
        _id = id;
        _document = document;
        var source = document["EventSourceArn"]!.GetValue<string>();
        var consumer = source.IndexOf("/consumer/", StringComparison.Ordinal);
        _streamArn = consumer < 0 ? source : source[..consumer];
        _consumerArn = consumer < 0 ? null : source;
        var function = document["FunctionArn"]!.GetValue<string>();
        var parts = function[(function.IndexOf(":function:", StringComparison.Ordinal) + ":function:".Length)..].Split(':');
        _functionName = parts[0];
        _qualifier = parts.Length > 1 ? parts[1] : null;
        _filter = EventFilter.Parse(document["FilterCriteria"]);
        _kinesis = owner.KinesisAs(function, _streamArn);
    }

    public string? LastProcessingResult { get; private set; }

    private int BatchSize => (int)_document["BatchSize"]!.GetValue<long>();

    private TimeSpan BatchingWindow => TimeSpan.FromSeconds(_document["MaximumBatchingWindowInSeconds"]!.GetValue<long>());

    private long MaxRetries => _document["MaximumRetryAttempts"]!.GetValue<long>();

    private long MaxAgeSeconds => _document["MaximumRecordAgeInSeconds"]!.GetValue<long>();

    private long WindowSeconds => _document["TumblingWindowInSeconds"]?.GetValue<long>() ?? 0;

    private bool Bisect => _document["BisectBatchOnFunctionError"]!.GetValue<bool>();

    private bool ReportsItemFailures => _document["FunctionResponseTypes"] is JsonArray types && types.Any(t => t?.GetValue<string>() == "ReportBatchItemFailures");

    private string? FailureBucket =>
        ((_document["DestinationConfig"] as JsonObject)?["OnFailure"] as JsonObject)?["Destination"]?.GetValue<string>() is { } arn
            ? arn["arn:aws:s3:::".Length..] : null;

    public void Start() => _loop = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        var ct = _stop.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    await StartReadyShardsAsync(ct);
                }
                catch (ServiceException e) when (e.Code == "AccessDeniedException")
                {
                    // The execution role lost its Kinesis permissions: nothing is read (the records wait in the stream) until it has them again.
                    LastProcessingResult = UnreadableSource + e.ErrorMessage;
                }
                catch (ServiceException)
                {
                    // The stream is gone or changing: look again at the next tick.
                }

                await Task.Delay(ShardDiscovery, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        Task[] running;
        lock (_shards)
        {
            running = [.. _shards.Values];
        }

        await Task.WhenAll(running).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task StartReadyShardsAsync(CancellationToken ct)
    {
        var shards = new List<JsonObject>();
        string? token = null;
        do
        {
            var input = token is null ? new JsonObject { ["StreamARN"] = _streamArn } : new JsonObject { ["NextToken"] = token };
            var page = await _kinesis.CallAsync("ListShards", input, ct);
            shards.AddRange(page["Shards"]!.AsArray().Select(s => s!.AsObject()));
            token = page["NextToken"]?.GetValue<string>();
        }
        while (token is not null);

        var checkpoints = (await _owner.Store.ListCheckpointsAsync(_id, ct)).ToDictionary(c => c.ShardId, StringComparer.Ordinal);
        var known = shards.Select(s => s["ShardId"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        foreach (var shard in shards)
        {
            var shardId = shard["ShardId"]!.GetValue<string>();
            lock (_shards)
            {
                if (_shards.TryGetValue(shardId, out var running) && !running.IsCompleted)
                {
                    continue;
                }
            }

            checkpoints.TryGetValue(shardId, out var checkpoint);
            if (checkpoint?.Finished == true)
            {
                continue;
            }

            // Parents before children: a parent still listed must be read to its end first.
            var parents = new[] { shard["ParentShardId"]?.GetValue<string>(), shard["AdjacentParentShardId"]?.GetValue<string>() };
            if (parents.Any(p => p is not null && known.Contains(p) && !(checkpoints.TryGetValue(p, out var pc) && pc.Finished)))
            {
                continue;
            }

            var hasParent = parents.Any(p => p is not null);
            lock (_shards)
            {
                _shards[shardId] = Task.Run(() => PollShardAsync(shardId, checkpoint?.SequenceNumber, hasParent, ct), ct);
            }
        }
    }

    private IShardReader Reader(string shardId, string? checkpoint, bool childShard) =>
        _consumerArn is null
            ? new PollingShardReader(_kinesis, _document, _streamArn, shardId, checkpoint, childShard)
            : new SubscriptionShardReader(_kinesis, _document, _consumerArn, _streamArn, shardId, checkpoint, childShard);

    /// <summary>
    /// Reads a shard and runs its batches: with ParallelizationFactor N, records are spread over N lanes by partition
    /// key, each lane with one batch in flight, so order is kept per key; the shard's checkpoint advances only past
    /// records that every lane has finished with. With a tumbling window, the shard's batches run one at a time.
    /// </summary>
    private async Task PollShardAsync(string shardId, string? checkpoint, bool childShard, CancellationToken ct)
    {
        var factor = WindowSeconds > 0 ? 1 : (int)Math.Clamp(_document["ParallelizationFactor"]?.GetValue<long>() ?? 1, 1, 10);
        var progress = new ShardProgress(this, shardId, checkpoint);
        var windowed = WindowSeconds > 0 ? new WindowedShard(this, shardId, progress) : null;
        var lanes = Enumerable.Range(0, factor).Select(_ => new List<StreamRecord>()).ToArray();
        var windows = new DateTime[factor];
        var running = new Task?[factor];
        await using var reader = Reader(shardId, checkpoint, childShard);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var (records, ended) = await reader.ReadAsync(ct);
                var page = progress.Register(records);
                var matching = new List<StreamRecord>(page.Count);
                foreach (var record in page)
                {
                    if (_filter is not null && !_filter.Matches(record.DecodeData()))
                    {
                        await progress.DoneAsync([record], ct); // skipped records count as processed
                        continue;
                    }

                    matching.Add(record);
                }

                if (windowed is not null)
                {
                    await windowed.PumpAsync(matching, caughtUp: page.Count == 0, closing: ended, ct);
                }
                else
                {
                    foreach (var record in matching)
                    {
                        var lane = factor == 1 ? 0 : record.Lane(factor);
                        if (lanes[lane].Count == 0)
                        {
                            windows[lane] = DateTime.UtcNow;
                        }

                        lanes[lane].Add(record);
                    }

                    Dispatch(shardId, lanes, windows, running, progress, closing: ended, ct);

                    // Back-pressure: while a lane holds a full batch it cannot start, wait for a lane to finish.
                    if (Enumerable.Range(0, factor).Any(i => lanes[i].Count >= BatchSize && running[i] is { IsCompleted: false }))
                    {
                        await WhenALaneFinishesAsync(running);
                    }
                }

                if (ended)
                {
                    // A closed shard read to its end: finish its batches, then its children may start.
                    while (lanes.Any(l => l.Count > 0) || running.Any(t => t is { IsCompleted: false }))
                    {
                        Dispatch(shardId, lanes, windows, running, progress, closing: true, ct);
                        await WhenALaneFinishesAsync(running);
                    }

                    await Task.WhenAll(running.Where(t => t is not null)!);
                    await progress.FlushAsync();
                    await _owner.Store.PutCheckpointAsync(new StoredCheckpoint(_id, shardId, progress.Checkpoint, Finished: true), ct);
                    return;
                }

                if (page.Count == 0)
                {
                    await Task.Delay(IdlePoll, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ServiceException e)
        {
            // The shard or stream went away, or the role may no longer read it; discovery decides what happens next.
            if (e.Code == "AccessDeniedException")
            {
                LastProcessingResult = UnreadableSource + e.ErrorMessage;
            }
        }

        await Task.WhenAll(running.Where(t => t is not null)!).ContinueWith(_ => { }, TaskScheduler.Default);
        await progress.FlushAsync(); // no checkpoint is written after the runner stops (a deleted mapping stays deleted)
    }

    private static async Task WhenALaneFinishesAsync(Task?[] running)
    {
        var busy = running.Where(t => t is { IsCompleted: false }).Select(t => t!).ToList();
        if (busy.Count > 0)
        {
            await Task.WhenAny(busy);
        }
    }

    /// <summary>Starts a batch on each idle lane that has a full batch, an expired batching window, or the end of a closed shard.</summary>
    private void Dispatch(string shardId, List<StreamRecord>[] lanes, DateTime[] windows, Task?[] running, ShardProgress progress, bool closing, CancellationToken ct)
    {
        for (var i = 0; i < lanes.Length; i++)
        {
            if (running[i] is { IsCompleted: false } || lanes[i].Count == 0)
            {
                continue;
            }

            if (running[i] is { IsFaulted: true } failed)
            {
                throw failed.Exception!.InnerException!;
            }

            if (lanes[i].Count >= BatchSize || closing || DateTime.UtcNow - windows[i] >= BatchingWindow)
            {
                var batch = TakeBatch(lanes[i]);
                windows[i] = DateTime.UtcNow;
                running[i] = Task.Run(() => ProcessAsync(shardId, batch, b => progress.DoneAsync(b, ct), null, ct), ct);
            }
        }
    }

    /// <summary>
    /// A shard read with tumbling windows: batches hold the records of one window, run one at a time with the
    /// window's state; once the window is over (a later window's record was read, or its end passed with the shard
    /// read to its tip, or the shard closed) a final invocation gets the state, and only then are the window's
    /// records checkpointed. A failed final invocation is retried until it succeeds, holding up the shard, as on AWS.
    /// </summary>
    private sealed class WindowedShard(MappingRunner runner, string shardId, ShardProgress progress)
    {
        private readonly List<StreamRecord> _pending = [];
        private DateTime _pendingSince;
        private TumblingWindow? _current;

        /// <summary>
        /// How long after its end a window is closed by the clock alone: a record gets its arrival time before it
        /// can be read, so one that arrived just before the end may still be on its way.
        /// </summary>
        private const long GraceSeconds = 1;

        /// <summary>Over by the clock: the shard is read to its tip and the window's end (and the grace) has passed.</summary>
        private static bool Over(TumblingWindow window, bool caughtUp, long nowSeconds) => caughtUp && nowSeconds >= window.End + GraceSeconds;

        public async Task PumpAsync(List<StreamRecord> records, bool caughtUp, bool closing, CancellationToken ct)
        {
            if (_pending.Count == 0 && records.Count > 0)
            {
                _pendingSince = DateTime.UtcNow;
            }

            _pending.AddRange(records);
            var length = runner.WindowSeconds;
            while (true)
            {
                var now = runner._owner.Options.Clock.GetUtcNow().ToUnixTimeSeconds();
                if (_pending.Count == 0)
                {
                    if (_current is not null && (closing || Over(_current, caughtUp, now)))
                    {
                        await FinishAsync(_current, early: false, ct);
                        _current = null;
                    }

                    return;
                }

                var start = TumblingWindow.StartOf(_pending[0], length);
                if (_current is not null && _current.Start != start)
                {
                    await FinishAsync(_current, early: false, ct);
                    _current = null;
                    continue;
                }

                _current ??= new TumblingWindow(start, length);
                var inWindow = 0;
                while (inWindow < _pending.Count && inWindow < runner.BatchSize && TumblingWindow.StartOf(_pending[inWindow], length) == start)
                {
                    inWindow++;
                }

                var windowComplete = inWindow < _pending.Count || closing || Over(_current, caughtUp, now);
                if (inWindow < runner.BatchSize && !windowComplete && DateTime.UtcNow - _pendingSince < runner.BatchingWindow)
                {
                    return;
                }

                var batch = runner.TakeBatch(_pending, inWindow);
                _pendingSince = DateTime.UtcNow;
                var window = _current;
                await runner.ProcessAsync(shardId, batch, b =>
                {
                    window.Processed.AddRange(b);
                    return Task.CompletedTask;
                }, window, ct);

                if (window.StateTooLarge)
                {
                    // The state outgrew 1 MB: this part of the window ends now; the window goes on with a fresh state.
                    await FinishAsync(window, early: true, ct);
                    _current = new TumblingWindow(start, length);
                }
            }
        }

        private async Task FinishAsync(TumblingWindow window, bool early, CancellationToken ct)
        {
            window.Final = true;
            window.TerminatedEarly = early;
            for (var attempt = 0; ; attempt++)
            {
                var (ok, _, _) = await runner.InvokeAsync(shardId, [], window, ct);
                if (ok)
                {
                    runner.LastProcessingResult = "OK";
                    break;
                }

                runner.LastProcessingResult = "PROBLEM: Function call failed";
                await Task.Delay(RetryDelay(attempt), ct);
            }

            await progress.DoneAsync(window.Processed, ct);
        }
    }

    /// <summary>
    /// Which records of a shard are done, in the order they were read: the checkpoint is the last record before the
    /// first one still queued or in flight. It is written durably in the background whenever it moves, the latest
    /// value each time, so a lane goes on with its next batch while the previous checkpoint is fsynced. A checkpoint
    /// is never ahead of what the function finished, so a crash can only cause records to be delivered again.
    /// </summary>
    private sealed class ShardProgress(MappingRunner runner, string shardId, string? checkpoint)
    {
        private readonly object _gate = new();
        private readonly Dictionary<long, ReadOnlyMemory<byte>> _sequences = [];
        private readonly HashSet<long> _done = [];
        private long _next;
        private long _frontier;
        private string? _persisted = checkpoint;
        private bool _persisting;
        private Task _persist = Task.CompletedTask;

        public string? Checkpoint { get; private set; } = checkpoint;

        public List<StreamRecord> Register(List<StreamRecord> page)
        {
            lock (_gate)
            {
                var numbered = new List<StreamRecord>(page.Count);
                foreach (var record in page)
                {
                    _sequences[_next] = record.RawSequenceNumber; // made a string only when it becomes the checkpoint
                    numbered.Add(record with { Ordinal = _next++ });
                }

                return numbered;
            }
        }

        public Task DoneAsync(IEnumerable<StreamRecord> records, CancellationToken ct)
        {
            lock (_gate)
            {
                foreach (var record in records)
                {
                    _done.Add(record.Ordinal);
                }

                ReadOnlyMemory<byte>? last = null;
                while (_done.Remove(_frontier))
                {
                    _sequences.Remove(_frontier, out var sequence);
                    last = sequence;
                    _frontier++;
                }

                if (last is { } raw)
                {
                    Checkpoint = Encoding.UTF8.GetString(raw.Span[1..^1]);
                }

                if (!_persisting && Checkpoint != _persisted)
                {
                    _persisting = true;
                    _persist = Task.Run(() => PersistAsync(ct), CancellationToken.None);
                }
            }

            return Task.CompletedTask;
        }

        /// <summary>Waits until the checkpoint as it is now is durable.</summary>
        public async Task FlushAsync()
        {
            Task pending;
            lock (_gate)
            {
                pending = _persist;
            }

            await pending;
        }

        private async Task PersistAsync(CancellationToken ct)
        {
            try
            {
                while (true)
                {
                    string? target;
                    lock (_gate)
                    {
                        target = Checkpoint;
                        if (target == _persisted)
                        {
                            _persisting = false;
                            return;
                        }
                    }

                    await runner._owner.Store.PutCheckpointAsync(new StoredCheckpoint(runner._id, shardId, target, Finished: false), ct);
                    lock (_gate)
                    {
                        _persisted = target;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or System.Data.Common.DbException)
            {
                // Stopping, or the store failed: what was written stays (records after it are delivered again), and
                // the next finished batch tries again.
                lock (_gate)
                {
                    _persisting = false;
                }
            }
        }
    }

    /// <summary>Up to BatchSize records from the front of <paramref name="pending"/>, within the 6 MB invoke payload.</summary>
    private List<StreamRecord> TakeBatch(List<StreamRecord> pending, int max = int.MaxValue)
    {
        var batch = new List<StreamRecord>();
        long bytes = 64;
        foreach (var record in pending)
        {
            var size = record.EventBytes;
            if (batch.Count > 0 && (batch.Count >= Math.Min(BatchSize, max) || bytes + size > MaxPayloadBytes))
            {
                break;
            }

            batch.Add(record);
            bytes += size;
        }

        pending.RemoveRange(0, batch.Count);
        return batch;
    }

    /// <summary>Invokes the function with a batch until it succeeds or AWS's rules discard it; checkpoints after it.</summary>
    private async Task ProcessAsync(string shardId, List<StreamRecord> records, Func<List<StreamRecord>, Task> done, TumblingWindow? window, CancellationToken ct)
    {
        var work = new Stack<(List<StreamRecord> Batch, int Attempts)>();
        work.Push((records, 0));
        while (work.Count > 0)
        {
            var (batch, attempts) = work.Pop();
            var invokes = attempts;
            while (true)
            {
                if (MaxAgeSeconds >= 0 && AgeSeconds(batch[0]) > MaxAgeSeconds)
                {
                    await DiscardAsync(shardId, batch, "RecordAgeExceeded", invokes, null, done, ct);
                    break;
                }

                var (ok, failedFrom, result) = await InvokeAsync(shardId, batch, window, ct);
                invokes++;
                if (ok)
                {
                    LastProcessingResult = "OK";
                    await done(batch);
                    break;
                }

                LastProcessingResult = "PROBLEM: Function call failed";

                // ReportBatchItemFailures: what came before the lowest failed record is done.
                if (failedFrom > 0)
                {
                    await done(batch[..failedFrom]);
                    batch = batch[failedFrom..];
                }

                if (Bisect && batch.Count > 1)
                {
                    // Each half is tried on its own with its own retries: the split itself is not a retry.
                    var half = batch.Count / 2;
                    work.Push((batch[half..], 0));
                    work.Push((batch[..half], 0));
                    break;
                }

                if (MaxRetries >= 0 && invokes > MaxRetries)
                {
                    await DiscardAsync(shardId, batch, "RetryAttemptsExhausted", invokes, result, done, ct);
                    break;
                }

                await Task.Delay(RetryDelay(invokes), ct);
            }
        }
    }

    /// <summary>Backoff between invocations that failed: 100 ms doubled per attempt, at most 5 s.</summary>
    private static TimeSpan RetryDelay(int attempts) => TimeSpan.FromMilliseconds(Math.Min(5_000, 100 * (1 << Math.Min(attempts, 6))));

    private double AgeSeconds(StreamRecord record) => _owner.Options.Clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0 - record.Arrival;

    /// <summary>One invocation: (success, index of the first record to retry when the function reported item failures, the result).</summary>
    private async Task<(bool Ok, int FailedFrom, Runtime.InvocationResult? Result)> InvokeAsync(string shardId, List<StreamRecord> batch, TumblingWindow? window,
        CancellationToken ct)
    {
        var payload = Event(shardId, batch, window);
        for (var throttled = 0; ; throttled++)
        {
            try
            {
                var target = await _owner.Lambda.PrepareAsync(_functionName, _qualifier, ct);
                var outcome = await _owner.Lambda.RunAsync(target, payload, null, ct);
                if (outcome.Result.IsError)
                {
                    return (false, 0, outcome.Result);
                }

                // With a tumbling window the response must carry the state; without it the invocation failed.
                if (window is not null && !window.TakeState(outcome.Result.Payload) && !window.Final)
                {
                    return (false, 0, outcome.Result);
                }

                if (!ReportsItemFailures)
                {
                    return (true, 0, outcome.Result);
                }

                var failedFrom = FirstFailure(batch, outcome.Result.Payload);
                return failedFrom is null ? (true, 0, outcome.Result) : (false, failedFrom.Value, outcome.Result);
            }
            catch (ServiceException e) when (e.Code is "TooManyRequestsException" or "ServiceException" or "ResourceConflictException" or "ResourceNotFoundException")
            {
                // Throttles and failures to reach the function are retried without counting against the retry limit.
                LastProcessingResult = e.Code == "TooManyRequestsException" ? "PROBLEM: Function call throttled" : "PROBLEM: Function not found or not active";
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1_000, 20 * (throttled + 1))), ct);
            }
        }
    }

    /// <summary>
    /// AWS's ReportBatchItemFailures rules: an empty or null list (or response) is full success; an invalid
    /// itemIdentifier fails the whole batch (index 0); otherwise processing resumes at the lowest failed sequence number.
    /// </summary>
    private static int? FirstFailure(List<StreamRecord> batch, byte[] payload)
    {
        JsonNode? response;
        try
        {
            response = payload.Length == 0 ? null : JsonNode.Parse(payload, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument);
        }
        catch (JsonException)
        {
            return null;
        }

        if (response is not JsonObject obj || obj["batchItemFailures"] is not JsonArray { Count: > 0 } failures)
        {
            return null;
        }

        BigInteger? lowest = null;
        foreach (var failure in failures)
        {
            var id = (failure as JsonObject)?["itemIdentifier"] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            if (string.IsNullOrEmpty(id) || !BigInteger.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
            {
                return 0;
            }

            lowest = lowest is null || seq < lowest ? seq : lowest;
        }

        var index = batch.FindIndex(r => BigInteger.Parse(r.SequenceNumber, CultureInfo.InvariantCulture) == lowest);
        return index < 0 ? 0 : index;
    }

    /// <summary><c>"shardId-...:sequenceNumber"</c> as a JSON token, from the sequence number's token.</summary>
    private static ReadOnlySpan<byte> EventId(byte[] prefix, ReadOnlySpan<byte> rawSequence, byte[] buffer)
    {
        prefix.CopyTo(buffer, 0);
        rawSequence[1..].CopyTo(buffer.AsSpan(prefix.Length)); // the digits and the closing quote
        return buffer.AsSpan(0, prefix.Length + rawSequence.Length - 1);
    }

    /// <summary>The event in AWS's shape and member order, written straight from the records.</summary>
    private byte[] Event(string shardId, List<StreamRecord> batch, TumblingWindow? window = null)
    {
        var role = "arn:aws:iam::" + _owner.Options.AccountId + ":role/lambda-role";
        var eventIdPrefix = Encoding.UTF8.GetBytes("\"" + shardId + ":");
        var eventId = new byte[eventIdPrefix.Length + 64];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(batch.Sum(r => r.EventBytes) + 1024);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("Records");
            foreach (var r in batch)
            {
                w.WriteStartObject();
                w.WriteStartObject("kinesis");
                w.WriteString("kinesisSchemaVersion", "1.0");
                w.WritePropertyName("partitionKey"u8);
                w.WriteRawValue(r.RawPartitionKey.Span, skipInputValidation: true);
                w.WritePropertyName("sequenceNumber"u8);
                w.WriteRawValue(r.RawSequenceNumber.Span, skipInputValidation: true);
                w.WritePropertyName("data"u8);
                w.WriteRawValue(r.RawData.Span, skipInputValidation: true);
                w.WritePropertyName("approximateArrivalTimestamp"u8);
                w.WriteRawValue(r.RawArrival.Span, skipInputValidation: true);
                w.WriteEndObject();
                w.WriteString("eventSource", "aws:kinesis");
                w.WriteString("eventVersion", "1.0");
                w.WritePropertyName("eventID"u8);
                w.WriteRawValue(EventId(eventIdPrefix, r.RawSequenceNumber.Span, eventId), skipInputValidation: true);
                w.WriteString("eventName", "aws:kinesis:record");
                w.WriteString("invokeIdentityArn", role);
                w.WriteString("awsRegion", _owner.Options.Region);
                w.WriteString("eventSourceARN", _streamArn);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            if (window is not null)
            {
                w.WriteStartObject("window");
                w.WriteString("start", TumblingWindow.Iso(window.Start));
                w.WriteString("end", TumblingWindow.Iso(window.End));
                w.WriteEndObject();
                w.WritePropertyName("state");
                w.WriteRawValue(window.State, skipInputValidation: true);
                w.WriteString("shardId", shardId);
                w.WriteString("eventSourceARN", _streamArn);
                w.WriteBoolean("isFinalInvokeForWindow", window.Final);
                w.WriteBoolean("isWindowTerminatedEarly", window.TerminatedEarly);
            }

            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Gives up on a batch: its invocation record (and the batch) goes to the on-failure bucket; processing goes on after it.</summary>
    private async Task DiscardAsync(string shardId, List<StreamRecord> batch, string condition, int invokes, Runtime.InvocationResult? result,
        Func<List<StreamRecord>, Task> done, CancellationToken ct)
    {
        if (FailureBucket is { } bucket && _owner.Lambda.Objects is { } objects)
        {
            var now = _owner.Options.Clock.GetUtcNow();
            static string Iso(double seconds) =>
                DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000)).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            var record = new JsonObject
            {
                ["requestContext"] = new JsonObject
                {
                    ["requestId"] = Guid.NewGuid().ToString(),
                    ["functionArn"] = _document["FunctionArn"]!.GetValue<string>(),
                    ["condition"] = condition,
                    ["approximateInvokeCount"] = invokes,
                },
                ["responseContext"] = new JsonObject
                {
                    ["statusCode"] = 200,
                    ["executedVersion"] = _qualifier ?? "$LATEST",
                    ["functionError"] = result?.IsError == true ? "Unhandled" : null,
                },
                ["version"] = "1.0",
                ["timestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
                ["KinesisBatchInfo"] = new JsonObject
                {
                    ["shardId"] = shardId,
                    ["startSequenceNumber"] = batch[0].SequenceNumber,
                    ["endSequenceNumber"] = batch[^1].SequenceNumber,
                    ["approximateArrivalOfFirstRecord"] = Iso(batch[0].Arrival),
                    ["approximateArrivalOfLastRecord"] = Iso(batch[^1].Arrival),
                    ["batchSize"] = batch.Count,
                    ["streamArn"] = _streamArn,
                },
                ["payload"] = Encoding.UTF8.GetString(Event(shardId, batch)),
            };
            var key = $"aws/lambda/{_id}/{shardId}/{now:yyyy}/{now:MM}/{now:dd}/{now:yyyy-MM-dd'T'HH.mm.ss}-{Guid.NewGuid()}";
            var writable = await RoleMayWriteAsync(bucket, key, ct);
            for (var attempt = 0; writable && attempt < 5; attempt++)
            {
                try
                {
                    if (await objects.WriteAsync(bucket, key, Encoding.UTF8.GetBytes(record.ToJsonString()), "application/json", ct))
                    {
                        break;
                    }
                }
                catch (IOException)
                {
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            }
        }

        await done(batch);
    }

    /// <summary>As on AWS, the on-failure record is written as the execution role: one that may not s3:PutObject there writes nothing, and says so.</summary>
    private async Task<bool> RoleMayWriteAsync(string bucket, string key, CancellationToken ct)
    {
        if (_owner.Options.RoleAllows is not { } allows)
        {
            return true;
        }

        var role = await _owner.Lambda.RoleOfAsync(_document["FunctionArn"]!.GetValue<string>(), ct);
        var resource = $"arn:aws:s3:::{bucket}/{key}";
        if (role is not null && await allows(role, "s3:PutObject", resource, ct))
        {
            return true;
        }

        LastProcessingResult = "PROBLEM: Lambda is unable to write to the on-failure destination: " + RoleKinesisCalls.Denial(role, "s3:PutObject", resource);
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
