using System.Collections.Concurrent;
using Millrace.Aggregation;
using Millrace.Client;

namespace Millrace.Producer;

/// <summary>
/// An in-process Kinesis Producer Library: <see cref="AddUserRecordAsync"/> buffers user records, aggregates those
/// predicted for the same shard (KPL wire format), collects the aggregates into PutRecords calls and completes each
/// record's task with its shard, sequence and sub-sequence number and its attempts. Unlike the KPL it backs off
/// exponentially with jitter between attempts, and it bounds memory: past <see cref="KinesisProducerConfiguration.MaxOutstandingRecords"/>
/// or <see cref="KinesisProducerConfiguration.MaxBufferedBytes"/>, adding awaits room. One PutRecords call per shard
/// is in flight at a time, so records of one partition key arrive in the order added unless a retry intervenes.
/// </summary>
public sealed class KinesisProducer : IAsyncDisposable
{
    private const string ExpiredCode = "Expired";
    private const string ThrottledCode = "ProvisionedThroughputExceededException";

    private readonly KinesisProducerConfiguration _config;
    private readonly IKinesisClient _client;
    private readonly IDisposable? _ownedClient;
    private readonly ConcurrentDictionary<string, StreamState> _streams = new(StringComparer.Ordinal);
    private readonly CapacityGate _gate;
    private readonly SemaphoreSlim _connections;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _timerLoop;
    private readonly long _maxBufferedTicks;
    private readonly long _ttlTicks;
    private readonly long _tickTicks;
    private int _flushing;
    private int _disposed;

    /// <summary>A producer with its own client for these options; the client's own retries are turned off so the
    /// producer decides about every attempt.</summary>
    public KinesisProducer(KinesisProducerConfiguration configuration, AwsClientOptions clientOptions)
        : this(configuration, CreateClient(configuration, clientOptions), ownsClient: true)
    {
    }

    /// <summary>A producer over a given client (not disposed by the producer). Give it MaxErrorRetry = 0 so
    /// attempts, backoff and RecordTtl are the producer's.</summary>
    public KinesisProducer(KinesisProducerConfiguration configuration, IKinesisClient client)
        : this(configuration, client, ownsClient: false)
    {
    }

    private KinesisProducer(KinesisProducerConfiguration configuration, IKinesisClient client, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(client);
        configuration.Validate();
        _config = configuration;
        _client = client;
        _ownedClient = ownsClient ? client as IDisposable : null;
        _gate = new CapacityGate(configuration.MaxOutstandingRecords, configuration.MaxBufferedBytes);
        _connections = new SemaphoreSlim(configuration.MaxConnections);
        _maxBufferedTicks = Clock.Ticks(configuration.RecordMaxBufferedTime);
        _ttlTicks = Clock.Ticks(configuration.RecordTtl);
        // The KPL drains its limiter every 25 ms; buffered-time deadlines need at least half their length.
        _tickTicks = Clock.Ticks(TimeSpan.FromMilliseconds(Math.Clamp(configuration.RecordMaxBufferedTime.TotalMilliseconds / 2, 1, 25)));
        Metrics = new ProducerMetrics(() => _gate.Records);
        _timerLoop = Task.Run(TimerLoopAsync);
    }

    private static KinesisClient CreateClient(KinesisProducerConfiguration configuration, AwsClientOptions o) => new(new AwsClientOptions
    {
        Region = o.Region,
        ServiceUrl = o.ServiceUrl,
        Credentials = o.Credentials,
        Profile = o.Profile,
        HttpVersion = o.HttpVersion,
        HttpHandler = o.HttpHandler,
        TimeProvider = o.TimeProvider,
        MaxErrorRetry = 0,
        MaxConnections = configuration.MaxConnections,
        RequestTimeout = configuration.RequestTimeout,
    });

    /// <summary>The KPL's metrics as instruments of the meter "Millrace.Producer".</summary>
    public ProducerMetrics Metrics { get; }

    /// <summary>User records accepted and not yet completed (the KPL's getOutstandingRecordsCount).</summary>
    public long OutstandingRecordsCount => _gate.Records;

    /// <summary>
    /// Adds a user record. While the buffer has room this returns at once with the task of the record's result;
    /// when it is full the task first waits for room (<paramref name="cancellationToken"/> cancels only that wait).
    /// The task fails with <see cref="UserRecordFailedException"/> when the record is not put (e.g. Expired).
    /// Callers that add in a loop without awaiting each result should use <see cref="EnqueueUserRecordAsync"/>,
    /// whose await is the back-pressure.
    /// </summary>
    public Task<UserRecordResult> AddUserRecordAsync(string stream, string partitionKey, ReadOnlyMemory<byte> data, string? explicitHashKey = null, CancellationToken cancellationToken = default)
    {
        var record = Create(stream, partitionKey, data, explicitHashKey);
        if (_gate.TryAcquire(record.Size))
        {
            Accept(record);
            return record.Task;
        }

        return AddWhenRoomAsync(record, cancellationToken);
    }

    private async Task<UserRecordResult> AddWhenRoomAsync(UserRecord record, CancellationToken cancellationToken)
    {
        await _gate.AcquireAsync(record.Size, cancellationToken).ConfigureAwait(false);
        Accept(record);
        return await record.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Back-pressure for loops: awaits room in the buffer (bounded by MaxOutstandingRecords and MaxBufferedBytes),
    /// then returns the task of the record's result without waiting for it.
    /// </summary>
    public ValueTask<Task<UserRecordResult>> EnqueueUserRecordAsync(string stream, string partitionKey, ReadOnlyMemory<byte> data, string? explicitHashKey = null, CancellationToken cancellationToken = default)
    {
        var record = Create(stream, partitionKey, data, explicitHashKey);
        if (_gate.TryAcquire(record.Size))
        {
            Accept(record);
            return ValueTask.FromResult(record.Task);
        }

        return EnqueueWhenRoomAsync(record, cancellationToken);
    }

    private async ValueTask<Task<UserRecordResult>> EnqueueWhenRoomAsync(UserRecord record, CancellationToken cancellationToken)
    {
        await _gate.AcquireAsync(record.Size, cancellationToken).ConfigureAwait(false);
        Accept(record);
        return record.Task;
    }

    private UserRecord Create(string stream, string partitionKey, ReadOnlyMemory<byte> data, string? explicitHashKey)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ArgumentException.ThrowIfNullOrEmpty(stream);
        ArgumentNullException.ThrowIfNull(partitionKey);
        if (partitionKey.Length is < 1 or > 256)
        {
            throw new ArgumentException("The partition key must be 1 to 256 characters long.", nameof(partitionKey));
        }

        if (data.Length + (long)partitionKey.Length > _config.MaxUserRecordSize)
        {
            throw new ArgumentException($"The record ({data.Length + partitionKey.Length} bytes with its partition key) exceeds MaxUserRecordSize ({_config.MaxUserRecordSize}).", nameof(data));
        }

        UInt128 hashKey;
        if (explicitHashKey is null)
        {
            hashKey = KplHashKey.FromPartitionKey(partitionKey);
        }
        else if (!KplHashKey.TryParse(explicitHashKey, out hashKey))
        {
            throw new ArgumentException($"Invalid ExplicitHashKey '{explicitHashKey}': a decimal number between 0 and 2^128 - 1.", nameof(explicitHashKey));
        }

        long now = Clock.Now;
        return new UserRecord(stream, partitionKey, explicitHashKey, data, hashKey, now, now + _maxBufferedTicks, now + _ttlTicks);
    }

    private void Accept(UserRecord record)
    {
        var s = _streams.GetOrAdd(record.Stream, static (name, self) => self.NewStream(name), this);
        Metrics.UserRecordsReceived.Add(1, s.Tag);
        Batch? batch;
        lock (s.Lock)
        {
            batch = Route(s, record, record.Arrival);
        }

        if (batch is not null)
        {
            Start(batch);
        }
    }

    private StreamState NewStream(string name)
    {
        var s = new StreamState(name);
        s.Refresh = RefreshMapAsync(s);
        return s;
    }

    /// <summary>Puts a record in its predicted shard's aggregate (or alone, when aggregation is off or it is too big),
    /// or aside until a shard map is known. Returns a call to start when one became due. Under the stream's lock.</summary>
    private Batch? Route(StreamState s, UserRecord record, long now)
    {
        var shardId = s.Map?.Predict(record.HashKey);
        if (shardId is null)
        {
            s.Unmapped.Add(record);
            if (s.Map is not null)
            {
                RequestRefresh(s);
            }

            return null;
        }

        record.PredictedShard = shardId;
        if (!s.Shards.TryGetValue(shardId, out var shard))
        {
            shard = new ShardState(shardId, _config.RateLimit);
            s.Shards.Add(shardId, shard);
        }

        if (!_config.AggregationEnabled || record.Size + KplFormat.Overhead > _config.AggregationMaxSize)
        {
            Seal(shard);
            EnqueueReady(shard, KinesisRecord.Single(record));
        }
        else
        {
            if (shard.Open.Count >= _config.AggregationMaxCount
                || !shard.Builder.TryAdd(record.PartitionKey, record.ExplicitHashKey, record.Data, _config.AggregationMaxSize, record.HashKey))
            {
                Seal(shard);
                shard.Builder.TryAdd(record.PartitionKey, record.ExplicitHashKey, record.Data, _config.AggregationMaxSize, record.HashKey);
            }

            shard.Open.Add(record);
            shard.OpenDeadline = Math.Min(shard.OpenDeadline, record.Deadline);
        }

        return TryDispatch(s, shard, now);
    }

    /// <summary>Closes the aggregate being filled: it joins the records waiting for a PutRecords call.</summary>
    private static void Seal(ShardState shard)
    {
        if (shard.Open.Count == 0)
        {
            return;
        }

        KinesisRecord record;
        if (shard.Open.Count == 1)
        {
            record = KinesisRecord.Single(shard.Open[0]);
            shard.Open.Clear();
        }
        else
        {
            var envelope = shard.Builder.Build();
            record = new KinesisRecord(envelope.PartitionKey, envelope.ExplicitHashKey, envelope.Data, shard.Open, aggregated: true, shard.ShardId);
            shard.Open = new List<UserRecord>(Math.Min(shard.Open.Count, 4096));
        }

        shard.Builder.Clear();
        shard.OpenDeadline = long.MaxValue;
        EnqueueReady(shard, record);
    }

    private static void EnqueueReady(ShardState shard, KinesisRecord record)
    {
        shard.Ready.Enqueue(record);
        shard.ReadyBytes += record.Size;
    }

    /// <summary>Takes the next PutRecords call for the shard when none is in flight and one is due (full, past its
    /// deadline, or flushing), within the shard's token bucket.</summary>
    private Batch? TryDispatch(StreamState s, ShardState shard, long now)
    {
        if (shard.InFlight || shard.Ready.Count == 0)
        {
            return null;
        }

        bool due = Volatile.Read(ref _flushing) > 0
            || shard.Ready.Count >= _config.CollectionMaxCount
            || shard.ReadyBytes >= _config.CollectionMaxSize
            || shard.Ready.Peek().Deadline <= now;
        if (!due)
        {
            return null;
        }

        var records = new List<KinesisRecord>(Math.Min(shard.Ready.Count, _config.CollectionMaxCount));
        long bytes = 0;
        while (records.Count < _config.CollectionMaxCount && shard.Ready.TryPeek(out var next))
        {
            if (records.Count > 0 && bytes + next.Size > _config.CollectionMaxSize)
            {
                break;
            }

            if (!shard.Bucket.TryTake(next.Size, now))
            {
                break;
            }

            shard.Ready.Dequeue();
            shard.ReadyBytes -= next.Size;
            records.Add(next);
            bytes += next.Size;
        }

        if (records.Count == 0)
        {
            return null;
        }

        shard.InFlight = true;
        return new Batch(s, shard, records);
    }

    private void Start(Batch batch) =>
        ThreadPool.UnsafeQueueUserWorkItem(static b => _ = b.self.SendAsync(b.batch), (self: this, batch), preferLocal: false);

    private void Start(List<Batch>? batches)
    {
        if (batches is not null)
        {
            foreach (var b in batches)
            {
                Start(b);
            }
        }
    }

    private async Task SendAsync(Batch batch)
    {
        var s = batch.Stream;
        var entries = new List<PutRecordsRequestEntry>(batch.Records.Count);
        long userRecords = 0;
        foreach (var kr in batch.Records)
        {
            entries.Add(new PutRecordsRequestEntry { PartitionKey = kr.PartitionKey, ExplicitHashKey = kr.ExplicitHashKey, Data = kr.Data });
            userRecords += kr.Records.Count;
        }

        Metrics.KinesisRecordsPerPutRecordsRequest.Record(batch.Records.Count, s.Tag);
        Metrics.UserRecordsPerPutRecordsRequest.Record(userRecords, s.Tag);

        await _connections.WaitAsync().ConfigureAwait(false);
        long start = Clock.Now;
        PutRecordsResponse? response = null;
        Exception? error = null;
        try
        {
            response = await _client.PutRecordsAsync(new PutRecordsRequest { StreamName = s.Name, Records = entries }).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            _connections.Release();
        }

        long end = Clock.Now;
        Metrics.RequestTime.Record(Clock.Milliseconds(end - start), s.Tag);

        // A success on a shard other than the predicted one: the map is stale (resharding). Learn the new map
        // before judging whether the records landed where they belong.
        if (response?.Records is { } results && results.Count == batch.Records.Count)
        {
            for (int i = 0; i < results.Count; i++)
            {
                if (results[i].ErrorCode is null && batch.Records[i].PredictedShard is { } predicted && results[i].ShardId != predicted)
                {
                    await RefreshMapAsync(s, force: true).ConfigureAwait(false);
                    break;
                }
            }
        }

        var completions = new List<(UserRecord Record, UserRecordResult Result)>(Math.Min((int)userRecords, 1 << 16));
        Batch? next;
        lock (s.Lock)
        {
            if (batch.Shard is { } shard)
            {
                shard.InFlight = false;
            }

            for (int i = 0; i < batch.Records.Count; i++)
            {
                var kr = batch.Records[i];
                if (error is not null)
                {
                    var (code, message, retryable) = Describe(error);
                    Failed(s, kr, start, end, code, message, retryable, completions);
                }
                else if (response!.Records is not { } rs || rs.Count != batch.Records.Count)
                {
                    Failed(s, kr, start, end, "Record Count Mismatch", $"PutRecords answered {response.Records?.Count ?? 0} entries for {batch.Records.Count}.", true, completions);
                }
                else if (rs[i].ErrorCode is { } code)
                {
                    Failed(s, kr, start, end, code, rs[i].ErrorMessage, true, completions);
                }
                else
                {
                    Succeeded(s, kr, rs[i].ShardId!, rs[i].SequenceNumber!, start, end, completions);
                }
            }

            next = null;
            if (batch.Shard is { } sh)
            {
                if (sh.Retired)
                {
                    Evacuate(s, sh, Clock.Now);
                }
                else
                {
                    next = TryDispatch(s, sh, Clock.Now);
                }
            }
        }

        if (next is not null)
        {
            Start(next);
        }

        Complete(completions);
    }

    private static (string Code, string? Message, bool Retryable) Describe(Exception error) => error switch
    {
        AwsServiceException aws => (aws.ErrorCode, aws.Message, aws.IsRetryable),
        TaskCanceledException or TimeoutException => ("RequestTimeout", error.Message, true),
        _ => (error.GetType().Name, error.Message, true),
    };

    private void Succeeded(StreamState s, KinesisRecord kr, string shardId, string sequenceNumber, long start, long end, List<(UserRecord, UserRecordResult)> completions)
    {
        if (kr.Aggregated && kr.PredictedShard != shardId)
        {
            // The envelope is routed by its first record's key; the others were predicted with a stale map. A KCL
            // consumer drops the whole aggregate when any of its records is outside the shard's range, so either all
            // of it counts or none of it does (the KPL retries only the strays, which the KCL then loses).
            foreach (var r in kr.Records)
            {
                if (s.Map?.InRange(shardId, r.HashKey) != true)
                {
                    Failed(s, kr, start, end, "Wrong Shard", $"Record went to shard {shardId} instead of the prediction {kr.PredictedShard}.", true, completions);
                    return;
                }
            }
        }

        var tag = new KeyValuePair<string, object?>("ShardId", shardId);
        Metrics.KinesisRecordsPut.Add(1, s.Tag, tag);
        Metrics.KinesisRecordsDataPut.Add(kr.Data.Length, s.Tag, tag);
        Metrics.UserRecordsPut.Add(kr.Records.Count, s.Tag, tag);
        Metrics.UserRecordsDataPut.Add(kr.UserDataBytes, s.Tag, tag);
        Metrics.UserRecordsPerKinesisRecord.Record(kr.Records.Count, s.Tag);
        var duration = Clock.Span(end - start);
        for (int i = 0; i < kr.Records.Count; i++)
        {
            var r = kr.Records[i];
            Metrics.BufferingTime.Record(Clock.Milliseconds(start - r.LastTime), s.Tag);
            Metrics.RetriesPerRecord.Record(r.Retries, s.Tag);
            var attempt = new Attempt(Clock.Span(start - r.LastTime), duration, null, null, true);
            completions.Add((r, new UserRecordResult(r.AttemptsWith(attempt), true, shardId, sequenceNumber, kr.Aggregated ? i : 0)));
        }
    }

    private void Failed(StreamState s, KinesisRecord kr, long start, long end, string code, string? message, bool retryable, List<(UserRecord, UserRecordResult)> completions)
    {
        var shardTag = new KeyValuePair<string, object?>("ShardId", kr.PredictedShard);
        Metrics.ErrorsByCode.Add(kr.Records.Count, s.Tag, shardTag, new KeyValuePair<string, object?>("ErrorCode", code));
        Metrics.AllErrors.Add(kr.Records.Count, s.Tag, shardTag);
        Metrics.KinesisRecordsPut.Add(0, s.Tag, shardTag);
        Metrics.UserRecordsPut.Add(0, s.Tag, shardTag);
        if (code == "Wrong Shard")
        {
            RequestRefresh(s);
        }

        bool fail = !retryable || (_config.FailIfThrottled && code == ThrottledCode);
        var duration = Clock.Span(end - start);
        foreach (var r in kr.Records)
        {
            Metrics.BufferingTime.Record(Clock.Milliseconds(start - r.LastTime), s.Tag);
            (r.FailedAttempts ??= []).Add(new Attempt(Clock.Span(start - r.LastTime), duration, code, message, false));
            r.LastTime = end;
            if (fail)
            {
                Metrics.RetriesPerRecord.Record(r.Retries, s.Tag);
                completions.Add((r, new UserRecordResult(r.FailedAttempts, false, null, null, 0)));
                continue;
            }

            r.Retries++;
            long due = end + Backoff(r.Retries);
            r.Deadline = due;
            s.Retries.Enqueue(r, Math.Min(due, r.Expiration));
        }
    }

    /// <summary>Exponential backoff with "equal jitter": half the doubled delay plus a random part of the other half.</summary>
    private long Backoff(int retries)
    {
        double baseMs = _config.RetryBaseDelay.TotalMilliseconds;
        double capMs = _config.RetryMaxDelay.TotalMilliseconds;
        double ms = Math.Min(capMs, baseMs * Math.Pow(2, Math.Min(retries - 1, 30)));
        ms = (ms / 2) + (Random.Shared.NextDouble() * ms / 2);
        return Clock.Ticks(TimeSpan.FromMilliseconds(ms));
    }

    private void Expire(StreamState s, UserRecord r, long now, List<(UserRecord, UserRecordResult)> completions)
    {
        Metrics.UserRecordExpired.Add(1, s.Tag);
        Metrics.ErrorsByCode.Add(1, s.Tag, new KeyValuePair<string, object?>("ErrorCode", ExpiredCode));
        Metrics.AllErrors.Add(1, s.Tag);
        Metrics.RetriesPerRecord.Record(r.Retries, s.Tag);
        var attempts = r.FailedAttempts ??= [];
        attempts.Add(new Attempt(Clock.Span(now - r.LastTime), TimeSpan.Zero, ExpiredCode, "Record has reached expiration", false));
        completions.Add((r, new UserRecordResult(attempts, false, null, null, 0)));
    }

    private void Complete(List<(UserRecord Record, UserRecordResult Result)> completions)
    {
        if (completions.Count == 0)
        {
            return;
        }

        long bytes = 0;
        foreach (var (r, _) in completions)
        {
            bytes += r.Size;
        }

        foreach (var (r, result) in completions)
        {
            if (result.Successful)
            {
                r.TrySetResult(result);
            }
            else
            {
                r.TrySetException(new UserRecordFailedException(result));
            }
        }

        _gate.Release(completions.Count, bytes);
    }

    /// <summary>The periodic work: records past their buffering deadline are sealed and sent, retries whose backoff
    /// ended go back in, expired records fail, and limiter-held records go when tokens refill.</summary>
    private async Task TimerLoopAsync()
    {
        using var timer = new PeriodicTimer(Clock.Span(_tickTicks));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Tick()
    {
        foreach (var s in _streams.Values)
        {
            long now = Clock.Now;
            bool flushing = Volatile.Read(ref _flushing) > 0;
            List<Batch>? batches = null;
            var completions = new List<(UserRecord, UserRecordResult)>();
            lock (s.Lock)
            {
                if (s.Unmapped.Count > 0)
                {
                    var unmapped = s.Unmapped.ToArray();
                    s.Unmapped.Clear();
                    foreach (var r in unmapped)
                    {
                        if (r.Expiration <= now)
                        {
                            Expire(s, r, now, completions);
                        }
                        else if (Route(s, r, now) is { } b)
                        {
                            (batches ??= []).Add(b);
                        }
                    }
                }

                while (s.Retries.TryPeek(out var r, out long due) && due <= now)
                {
                    s.Retries.Dequeue();
                    if (r.Expiration <= now)
                    {
                        Expire(s, r, now, completions);
                    }
                    else if (Route(s, r, now) is { } b)
                    {
                        (batches ??= []).Add(b);
                    }
                }

                // A snapshot: re-routing expired aggregates' companions may add a shard state.
                foreach (var shard in s.Shards.Values.ToArray())
                {
                    ExpireReady(s, shard, now, completions, ref batches);
                    if (shard.Open.Count > 0 && (flushing || shard.OpenDeadline <= now))
                    {
                        Seal(shard);
                    }

                    if (TryDispatch(s, shard, now) is { } b)
                    {
                        (batches ??= []).Add(b);
                    }
                }
            }

            Start(batches);
            Complete(completions);
        }
    }

    /// <summary>Records held (by the limiter or an in-flight call) past their TTL fail; their companions in the same
    /// aggregate go back in to be aggregated again.</summary>
    private void ExpireReady(StreamState s, ShardState shard, long now, List<(UserRecord, UserRecordResult)> completions, ref List<Batch>? batches)
    {
        if (shard.Ready.Count == 0 || shard.Ready.Peek().Expiration > now)
        {
            return;
        }

        var keep = new List<KinesisRecord>(shard.Ready.Count);
        var again = new List<UserRecord>();
        while (shard.Ready.TryDequeue(out var kr))
        {
            if (kr.Expiration > now)
            {
                keep.Add(kr);
                continue;
            }

            foreach (var r in kr.Records)
            {
                if (r.Expiration <= now)
                {
                    Expire(s, r, now, completions);
                }
                else
                {
                    again.Add(r);
                }
            }
        }

        shard.ReadyBytes = 0;
        foreach (var kr in keep)
        {
            EnqueueReady(shard, kr);
        }

        foreach (var r in again)
        {
            if (Route(s, r, now) is { } b)
            {
                (batches ??= []).Add(b);
            }
        }
    }

    /// <summary>Moves what a retired shard still holds (not in flight) to the shards of the new map, in order.</summary>
    private void Evacuate(StreamState s, ShardState shard, long now)
    {
        if (shard.InFlight)
        {
            return;
        }

        var records = new List<UserRecord>();
        while (shard.Ready.TryDequeue(out var kr))
        {
            records.AddRange(kr.Records);
        }

        records.AddRange(shard.Open);
        shard.Open.Clear();
        shard.Builder.Clear();
        shard.ReadyBytes = 0;
        shard.OpenDeadline = long.MaxValue;
        s.Shards.Remove(shard.ShardId);
        foreach (var r in records)
        {
            r.Deadline = now;
            s.Unmapped.Add(r);
        }
    }

    private void RequestRefresh(StreamState s)
    {
        if (s.Refresh is null || s.Refresh.IsCompleted)
        {
            s.Refresh = RefreshMapAsync(s);
        }
    }

    /// <summary>Loads the shard map with ListShards (retrying with backoff until it succeeds or the producer
    /// stops); at most one load per stream runs at a time, and loads are at least 200 ms apart so a reshard does
    /// not turn into a ListShards storm (KPL #332).</summary>
    private Task RefreshMapAsync(StreamState s, bool force)
    {
        lock (s.Lock)
        {
            if (s.Refresh is { IsCompleted: false } running)
            {
                return running;
            }

            if (!force && s.Map is not null)
            {
                return Task.CompletedTask;
            }

            s.Refresh = RefreshMapAsync(s);
            return s.Refresh;
        }
    }

    private async Task RefreshMapAsync(StreamState s)
    {
        await Task.Yield();
        int failures = 0;
        while (!_stopping.IsCancellationRequested)
        {
            long wait = s.LastRefresh + Clock.Ticks(TimeSpan.FromMilliseconds(200)) - Clock.Now;
            if (wait > 0)
            {
                await Task.Delay(Clock.Span(wait)).ConfigureAwait(false);
            }

            try
            {
                var shards = new List<Shard>();
                string? token = null;
                do
                {
                    var page = await _client.ListShardsAsync(token is null
                        ? new ListShardsRequest { StreamName = s.Name }
                        : new ListShardsRequest { NextToken = token }, _stopping.Token).ConfigureAwait(false);
                    shards.AddRange(page.Shards ?? []);
                    token = page.NextToken;
                }
                while (token is not null);

                var map = ShardMap.FromShards(shards);
                List<Batch>? batches = null;
                lock (s.Lock)
                {
                    s.Map = map;
                    s.LastRefresh = Clock.Now;
                    long now = Clock.Now;
                    foreach (var shard in s.Shards.Values.ToArray())
                    {
                        if (!map.Contains(shard.ShardId))
                        {
                            shard.Retired = true;
                            Evacuate(s, shard, now);
                        }
                    }

                    var unmapped = s.Unmapped.ToArray();
                    s.Unmapped.Clear();
                    foreach (var r in unmapped)
                    {
                        if (Route(s, r, now) is { } b)
                        {
                            (batches ??= []).Add(b);
                        }
                    }
                }

                Start(batches);
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                s.LastRefresh = Clock.Now;
                failures++;
                await Task.Delay(Clock.Span(Backoff(failures))).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends everything buffered now and completes when no record is outstanding (the KPL's flushSync,
    /// without blocking). Records added meanwhile are waited for too.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _flushing);
        try
        {
            Tick();
            await _gate.WhenDrainedAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _flushing);
        }
    }

    /// <summary>Stops taking records, flushes, and completes every task (records that cannot be put fail with their
    /// error or Expired within RecordTtl), then releases the client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await FlushAsync().ConfigureAwait(false);
        _stopping.Cancel();
        try
        {
            await _timerLoop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _ownedClient?.Dispose();
        Metrics.Dispose();
        _stopping.Dispose();
        _connections.Dispose();
    }
}
