namespace Millrace.Storage.Embedded;

/// <summary>
/// In-memory state of one shard. Fields prefixed W are owned by the writer loop (what has been serialized); the
/// others are what readers may see (what has been fsynced) and are guarded by <c>lock (this)</c>.
/// </summary>
internal sealed class ShardState(ShardKey key, ulong startingPosition)
{
    public ShardKey Key { get; } = key;

    public ulong StartingPosition { get; } = startingPosition;

    // Writer-owned.
    public ulong WLastPosition;
    public long WLastArrivalMs;
    public bool WSealed;

    // Guarded by lock(this).
    public readonly BlockIndex Index = new();
    public ulong LastPosition; // 0 = no record yet (every position is > StartingPosition >= 0)
    public long LastArrivalMs;
    public bool Sealed;
    public bool Dropped;
    private TaskCompletionSource? _signal;

    public ulong TipPosition => LastPosition != 0 ? LastPosition + 1 : StartingPosition + 1;

    /// <summary>Task completed at the next publication; caller holds the lock. Allocated only when someone waits.</summary>
    public Task GetSignalTask() =>
        (_signal ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Wakes waiters; call after releasing the lock.</summary>
    public void Signal()
    {
        TaskCompletionSource? s;
        lock (this)
        {
            s = _signal;
            _signal = null;
        }
        s?.TrySetResult();
    }
}
