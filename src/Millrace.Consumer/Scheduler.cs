using System.Collections.Concurrent;
using Millrace.Client;
using Millrace.Client.DynamoDb;
using Millrace.Consumer.Leases;
using Millrace.Consumer.Retrieval;

namespace Millrace.Consumer;

/// <summary>A consumer worker (the KCL's Scheduler): creates the lease table if missing, keeps the leases in step with
/// the shards, holds a fair share of the leases, and runs one <see cref="IShardRecordProcessor"/> per held lease.
/// Start several (in as many processes or hosts) with the same ApplicationName to share a stream.</summary>
public sealed class Scheduler : IAsyncDisposable
{
    private readonly ConsumerConfig _config;
    private readonly IKinesisClient _kinesis;
    private readonly KinesisClient? _fanOutClient;
    private readonly IShardRecordProcessorFactory _factory;
    private readonly ILeaseRefresher _refresher;
    private readonly LeaseCoordinator _coordinator;
    private readonly ShardSyncer _syncer;
    private readonly ConsumerMetrics _metrics;
    private readonly ConcurrentDictionary<ShardConsumer, Task> _consumers = new();
    private readonly CancellationTokenSource _shutdown = new();   // graceful: consumers call ShutdownRequested
    private readonly CancellationTokenSource _leaseWork = new();  // stops taking leases and syncing shards
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string? _consumerArn;
    private Task? _taker;

    /// <param name="config">Stream, application, timings.</param>
    /// <param name="factory">Makes one record processor per lease.</param>
    /// <param name="kinesis">Kinesis client; fan-out needs the concrete <see cref="KinesisClient"/> (SubscribeToShard).</param>
    /// <param name="dynamo">Client of the DynamoDB (or Millrace DynamoDB endpoint) holding the lease table.</param>
    public Scheduler(ConsumerConfig config, IShardRecordProcessorFactory factory, IKinesisClient kinesis, DynamoDbClient dynamo)
        : this(config, factory, kinesis, new DynamoDbLeaseRefresher(dynamo, config.TableName ?? config.ApplicationName))
    {
    }

    public Scheduler(ConsumerConfig config, IShardRecordProcessorFactory factory, IKinesisClient kinesis, ILeaseRefresher refresher)
    {
        _config = config;
        _factory = factory;
        _kinesis = kinesis;
        _fanOutClient = kinesis as KinesisClient;
        if (config.RetrievalMode == RetrievalMode.FanOut && _fanOutClient is null)
            throw new ArgumentException("fan-out retrieval needs a KinesisClient", nameof(kinesis));
        _refresher = refresher;
        _metrics = new ConsumerMetrics(config.WorkerId, () => _coordinator?.HeldCount ?? 0);
        _coordinator = new LeaseCoordinator(refresher, config, _metrics);
        _syncer = new ShardSyncer(kinesis, refresher, config);
        _coordinator.LeaseTaken += StartConsumer;
    }

    public string WorkerId => _config.WorkerId;

    /// <summary>Completes once the lease table exists and the first shard sync is done.</summary>
    public Task Started => _started.Task;

    /// <summary>Shard ids of the leases this worker holds now.</summary>
    public IReadOnlyList<string> HeldShardIds => [.. _coordinator.HeldLeases.Select(h => h.ShardId).Order()];

    private void Log(string message) => _config.Log?.Invoke(message);

    /// <summary>Runs until <see cref="StartGracefulShutdownAsync"/> finishes or <paramref name="cancellationToken"/> is
    /// cancelled (an abrupt stop: processors get LeaseLost and the leases expire).</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var leaseWork = CancellationTokenSource.CreateLinkedTokenSource(abort.Token, _leaseWork.Token);
        var renewerStop = abort.Token;
        Task? renewer = null, taker = null, sync = null;
        try
        {
            await _refresher.CreateLeaseTableIfNotExistsAsync(abort.Token).ConfigureAwait(false);
            await SyncWithRetryAsync(abort.Token).ConfigureAwait(false);
            if (_config.RetrievalMode == RetrievalMode.FanOut)
                _consumerArn = await FanOutRecordsFetcher.RegisterConsumerAsync(_fanOutClient!, _config, abort.Token).ConfigureAwait(false);
            _started.TrySetResult();
            Log($"worker {WorkerId} started");
            renewer = _coordinator.RunRenewerAsync(renewerStop);
            taker = _taker = _coordinator.RunTakerAsync(leaseWork.Token);
            sync = RunShardSyncAsync(leaseWork.Token);
            await Task.WhenAny(Task.Delay(Timeout.Infinite, abort.Token), _shutdownComplete.Task).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _started.TrySetException(e);
            throw;
        }
        finally
        {
            // Abrupt stop: lose every lease locally (the table keeps them until they expire).
            if (!_shutdownComplete.Task.IsCompleted)
            {
                foreach (var held in _coordinator.HeldLeases)
                    held.MarkLost();
            }
            await abort.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_consumers.Values).ConfigureAwait(false);
            foreach (var t in new[] { renewer, taker, sync })
            {
                if (t is not null)
                    await Swallow(t).ConfigureAwait(false);
            }
        }
    }

    private readonly TaskCompletionSource _shutdownComplete = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Graceful shutdown: stop taking leases, let every processor finish its batch and checkpoint in
    /// ShutdownRequested, evict the leases (so other workers take them at once), then stop. True when every processor
    /// was shut down.</summary>
    public async Task<bool> StartGracefulShutdownAsync()
    {
        await _leaseWork.CancelAsync().ConfigureAwait(false);
        // Let a taker pass in flight finish, so every lease this worker owns in the table is known and evicted below.
        if (_taker is { } taker)
            await Swallow(taker).ConfigureAwait(false);
        await _shutdown.CancelAsync().ConfigureAwait(false);
        var ok = true;
        try
        {
            await Task.WhenAll(_consumers.Values).WaitAsync(TimeSpan.FromMinutes(1)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ok = false;
        }
        foreach (var held in _coordinator.HeldLeases)
        {
            try
            {
                await _coordinator.EvictAsync(held, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                ok = false;
                Log($"eviction of {held.ShardId} failed: {e.Message}");
            }
        }
        _shutdownComplete.TrySetResult();
        Log($"worker {WorkerId} shut down");
        return ok;
    }

    private async Task SyncWithRetryAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await _syncer.SyncAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (attempt < 10 && e is not OperationCanceledException)
            {
                Log($"shard sync failed: {e.GetType().Name}: {e.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(500 * (attempt + 1)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task RunShardSyncAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_config.ShardSyncInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await _syncer.SyncAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log($"shard sync failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private void StartConsumer(HeldLease held)
    {
        if (_shutdown.IsCancellationRequested)
            return;
        var consumer = new ShardConsumer(held, _factory.CreateProcessor(), _coordinator, _refresher, _syncer, CreateFetcher,
            _config, _metrics, _shutdown.Token);
        var task = Task.Run(consumer.RunAsync);
        _consumers[consumer] = task;
        _ = task.ContinueWith(_ => _consumers.TryRemove(consumer, out Task? _), TaskScheduler.Default);
    }

    private IRecordsFetcher CreateFetcher(string shardId, StartPosition start) => _config.RetrievalMode switch
    {
        RetrievalMode.FanOut => new FanOutRecordsFetcher(_fanOutClient!, _consumerArn!, shardId, start, _config),
        _ => new PollingRecordsFetcher(_kinesis, _config, shardId, start),
    };

    private static async Task Swallow(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _leaseWork.CancelAsync().ConfigureAwait(false);
        await _shutdown.CancelAsync().ConfigureAwait(false);
        _metrics.Dispose();
        _leaseWork.Dispose();
        _shutdown.Dispose();
    }
}
