namespace Millrace.Producer;

/// <summary>
/// Bounds the user records (and their bytes) accepted and not yet completed. Adding takes room at once when there
/// is some, else waits in FIFO order; completing records gives room back. A single record larger than the byte
/// bound is let in when nothing else is outstanding, so it cannot wait forever.
/// </summary>
internal sealed class CapacityGate(long maxRecords, long maxBytes)
{
    private sealed class Waiter(long bytes) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long Bytes { get; } = bytes;
        public CancellationTokenRegistration Registration { get; set; }
    }

    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _records;
    private long _bytes;
    private TaskCompletionSource? _drained;

    public long Records => Volatile.Read(ref _records);

    public long Bytes => Volatile.Read(ref _bytes);

    public int Waiting { get { lock (_lock) { return _waiters.Count; } } }

    private bool Fits(long bytes) => _records < maxRecords && (_bytes + bytes <= maxBytes || _records == 0);

    public bool TryAcquire(long bytes)
    {
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                _records++;
                _bytes += bytes;
                return true;
            }

            return false;
        }
    }

    public Task AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                _records++;
                _bytes += bytes;
                return Task.CompletedTask;
            }

            waiter = new Waiter(bytes);
            node = _waiters.AddLast(waiter);
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(() =>
            {
                bool removed;
                lock (_lock)
                {
                    removed = node.List is not null;
                    if (removed)
                    {
                        _waiters.Remove(node);
                    }
                }

                if (removed)
                {
                    waiter.TrySetCanceled(cancellationToken);
                }
            });
        }

        return waiter.Task;
    }

    public void Release(long records, long bytes)
    {
        List<Waiter>? wake = null;
        TaskCompletionSource? drained = null;
        lock (_lock)
        {
            _records -= records;
            _bytes -= bytes;
            while (_waiters.First is { } first && Fits(first.Value.Bytes))
            {
                _waiters.RemoveFirst();
                _records++;
                _bytes += first.Value.Bytes;
                (wake ??= []).Add(first.Value);
            }

            if (_records == 0 && _drained is not null)
            {
                drained = _drained;
                _drained = null;
            }
        }

        if (wake is not null)
        {
            foreach (var w in wake)
            {
                w.Registration.Dispose();
                w.TrySetResult();
            }
        }

        drained?.TrySetResult();
    }

    /// <summary>Completes when nothing is outstanding (and nobody waits for room).</summary>
    public Task WhenDrainedAsync()
    {
        lock (_lock)
        {
            if (_records == 0 && _waiters.Count == 0)
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task;
        }
    }
}
