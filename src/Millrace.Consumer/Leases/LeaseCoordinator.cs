using System.Collections.Concurrent;
using System.Diagnostics;

namespace Millrace.Consumer.Leases;

/// <summary>A lease this worker holds: its last known table state, a gate that serializes the writes made under it
/// (renewals and checkpoints both bump leaseCounter), and a token cancelled when the lease is lost.</summary>
public sealed class HeldLease
{
    private readonly CancellationTokenSource _lost = new();

    internal HeldLease(Lease lease)
    {
        Lease = lease;
        LastRenewalTimestamp = Stopwatch.GetTimestamp();
    }

    internal Lease Lease { get; }

    internal SemaphoreSlim Gate { get; } = new(1, 1);

    internal long LastRenewalTimestamp { get; set; }

    public string ShardId => Lease.LeaseKey;

    public CancellationToken LostToken => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    internal void MarkLost() => _lost.Cancel();
}

/// <summary>v2-style lease management: a renewer keeps this worker's leases alive, a taker takes expired leases
/// (oldest first) up to ceil(leases / workers) and otherwise steals one at a time from the most loaded worker.
/// Leases whose checkpoint is SHARD_END are finished and neither taken nor counted.</summary>
public sealed class LeaseCoordinator(ILeaseRefresher refresher, ConsumerConfig config, ConsumerMetrics metrics)
{
    private readonly ConcurrentDictionary<string, HeldLease> _held = new();
    // Every lease seen in the last scan, with the local time its counter last changed.
    private readonly Dictionary<string, Lease> _seen = [];
    private readonly string _workerId = config.WorkerId;

    /// <summary>Raised (on the taker's thread) for each lease this worker took.</summary>
    public event Action<HeldLease>? LeaseTaken;

    public int HeldCount => _held.Count;

    public IReadOnlyCollection<HeldLease> HeldLeases => [.. _held.Values];

    private void Log(string message) => config.Log?.Invoke(message);

    public async Task RunRenewerAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(config.RenewerInterval);
        do
        {
            await RenewLeasesAsync(cancellationToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    public async Task RunTakerAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(config.EffectiveTakerInterval);
        do
        {
            try
            {
                // A pass is never cancelled half-way: a take whose response was abandoned could still have been
                // written, leaving a lease owned in the table that this worker does not know it holds.
                await TakeLeasesAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log($"lease taker: {e.GetType().Name}: {e.Message}");
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
    }

    internal async Task RenewLeasesAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_held.Values.Select(held => RenewAsync(held, cancellationToken))).ConfigureAwait(false);
    }

    private async Task RenewAsync(HeldLease held, CancellationToken cancellationToken)
    {
        try
        {
            await held.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (held.IsLost)
                    return;
                if (await refresher.RenewLeaseAsync(held.Lease, cancellationToken).ConfigureAwait(false))
                {
                    held.LastRenewalTimestamp = Stopwatch.GetTimestamp();
                    return;
                }
                Lost(held, "renewal found the counter moved");
            }
            finally
            {
                held.Gate.Release();
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A failed renewal is retried on the next tick; a lease not renewed for a failover time is given up,
            // because other workers may already consider it expired.
            if (Stopwatch.GetElapsedTime(held.LastRenewalTimestamp) > config.LeaseExpiry)
                Lost(held, $"not renewed for the lease expiry time ({e.GetType().Name}: {e.Message})");
            else
                Log($"renewal of {held.ShardId} failed: {e.GetType().Name}: {e.Message}");
        }
    }

    private void Lost(HeldLease held, string why)
    {
        if (_held.TryRemove(new KeyValuePair<string, HeldLease>(held.ShardId, held)))
        {
            metrics.LeaseLost();
            Log($"lease lost: {held.ShardId} ({why})");
        }
        held.MarkLost();
    }

    /// <summary>One taker pass: scan, judge expiry locally, take expired leases, or steal for balance.</summary>
    internal async Task TakeLeasesAsync(CancellationToken cancellationToken)
    {
        var scanned = await refresher.ListLeasesAsync(cancellationToken).ConfigureAwait(false);
        var now = Stopwatch.GetTimestamp();
        var present = new HashSet<string>();
        foreach (var lease in scanned)
        {
            present.Add(lease.LeaseKey);
            if (_seen.TryGetValue(lease.LeaseKey, out var previous) && previous.LeaseCounter == lease.LeaseCounter
                && previous.LeaseOwner == lease.LeaseOwner)
                lease.LastCounterIncrementTimestamp = previous.LastCounterIncrementTimestamp;
            else
                lease.LastCounterIncrementTimestamp = now;
            _seen[lease.LeaseKey] = lease;
        }
        foreach (var gone in _seen.Keys.Where(k => !present.Contains(k)).ToList())
            _seen.Remove(gone);

        var active = scanned.Where(l => !l.IsShardEnd).ToList();
        if (active.Count == 0)
            return;
        var expiryTicks = (long)(config.LeaseExpiry.TotalSeconds * Stopwatch.Frequency);
        bool Expired(Lease l) => l.LeaseOwner is null
            || (l.LeaseOwner == _workerId && !_held.ContainsKey(l.LeaseKey)) // ours from an earlier life of this worker id
            || (l.LeaseOwner != _workerId && now - l.LastCounterIncrementTimestamp > expiryTicks);

        var expired = active.Where(l => !_held.ContainsKey(l.LeaseKey) && Expired(l)).ToList();
        var counts = active.Where(l => !Expired(l) && l.LeaseOwner != _workerId)
            .GroupBy(l => l.LeaseOwner!).ToDictionary(g => g.Key, g => g.ToList());
        var mine = _held.Count;
        var workers = counts.Count + 1;
        var target = Math.Min(config.MaxLeasesForWorker, (active.Count + workers - 1) / workers);
        var needed = target - mine;
        if (needed <= 0)
            return;

        List<Lease> toTake;
        var stealing = false;
        if (expired.Count > 0)
        {
            var veryOld = (long)(config.FailoverTime.TotalSeconds * Stopwatch.Frequency) * config.VeryOldLeaseDurationMultiplier;
            toTake = [.. expired.OrderByDescending(l => l.LeaseOwner is null || now - l.LastCounterIncrementTimestamp > veryOld)
                .ThenBy(_ => Random.Shared.Next()).Take(needed)];
        }
        else
        {
            var mostLoaded = counts.MaxBy(kv => kv.Value.Count);
            var count = mostLoaded.Value?.Count ?? 0;
            var steal = count > target ? Math.Min(needed, config.MaxLeasesToStealAtOneTime)
                : count == target && needed > 1 ? 1 : 0;
            if (steal == 0)
                return;
            stealing = true;
            toTake = [.. mostLoaded.Value!.OrderBy(_ => Random.Shared.Next()).Take(steal)];
        }

        foreach (var candidate in toTake)
        {
            var lease = candidate.Copy();
            var previousOwner = lease.LeaseOwner;
            if (!await refresher.TakeLeaseAsync(lease, _workerId, cancellationToken).ConfigureAwait(false))
                continue;
            var held = new HeldLease(lease);
            if (!_held.TryAdd(lease.LeaseKey, held))
                continue;
            metrics.LeaseTaken(stealing);
            Log($"lease {(stealing ? "stolen" : "taken")}: {lease.LeaseKey} from {previousOwner ?? "-"} (target {target}, workers {workers})");
            LeaseTaken?.Invoke(held);
        }
    }

    /// <summary>Writes a checkpoint under the lease (conditional on its counter). Throws ShutdownException when the
    /// lease is no longer held.</summary>
    internal async Task CheckpointAsync(HeldLease held, ExtendedSequenceNumber checkpoint, CancellationToken cancellationToken)
    {
        await held.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (held.IsLost)
                throw new ShutdownException($"lease {held.ShardId} is no longer held by {_workerId}");
            var previous = (held.Lease.Checkpoint, held.Lease.PendingCheckpoint);
            held.Lease.Checkpoint = checkpoint;
            held.Lease.PendingCheckpoint = null;
            held.Lease.PendingCheckpointState = null;
            if (!await refresher.UpdateCheckpointAsync(held.Lease, cancellationToken).ConfigureAwait(false))
            {
                (held.Lease.Checkpoint, held.Lease.PendingCheckpoint) = previous;
                Lost(held, "checkpoint found the counter moved");
                throw new ShutdownException($"lease {held.ShardId} was taken by another worker; checkpoint not written");
            }
            metrics.Checkpointed();
        }
        finally
        {
            held.Gate.Release();
        }
    }

    /// <summary>Stops renewing a finished (SHARD_END) lease without evicting it.</summary>
    internal void Release(HeldLease held)
    {
        _held.TryRemove(new KeyValuePair<string, HeldLease>(held.ShardId, held));
    }

    /// <summary>Gives a lease up on purpose (graceful shutdown): removes leaseOwner so another worker takes it at once.</summary>
    internal async Task EvictAsync(HeldLease held, CancellationToken cancellationToken)
    {
        await held.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_held.TryRemove(new KeyValuePair<string, HeldLease>(held.ShardId, held)))
                return;
            held.MarkLost();
            if (await refresher.EvictLeaseAsync(held.Lease, cancellationToken).ConfigureAwait(false))
                Log($"lease evicted: {held.ShardId}");
        }
        finally
        {
            held.Gate.Release();
        }
    }
}
