using Millrace.Consumer.Leases;

namespace Millrace.Consumer;

/// <summary>Writes a shard's checkpoint to its lease. A checkpoint may not go back before the last one nor beyond the
/// largest record delivered so far (SHARD_END once the shard has ended). The KCL's RecordProcessorCheckpointer.</summary>
public sealed class RecordProcessorCheckpointer
{
    private readonly LeaseCoordinator _coordinator;
    private readonly HeldLease _lease;
    private readonly SemaphoreSlim _gate = new(1, 1);

    internal RecordProcessorCheckpointer(LeaseCoordinator coordinator, HeldLease lease, ExtendedSequenceNumber lastCheckpoint)
    {
        _coordinator = coordinator;
        _lease = lease;
        LastCheckpointValue = lastCheckpoint;
        LargestPermittedCheckpointValue = lastCheckpoint;
    }

    public string ShardId => _lease.ShardId;

    /// <summary>The checkpoint last written (or read at start).</summary>
    public ExtendedSequenceNumber LastCheckpointValue { get; private set; }

    /// <summary>The last user record delivered, or SHARD_END at the end of the shard.</summary>
    public ExtendedSequenceNumber LargestPermittedCheckpointValue { get; internal set; }

    internal bool Disabled { get; set; }

    /// <summary>Checkpoints at the last record delivered (SHARD_END in ShardEnded).</summary>
    public Task CheckpointAsync(CancellationToken cancellationToken = default) =>
        WriteAsync(LargestPermittedCheckpointValue, cancellationToken);

    /// <summary>Checkpoints at this record (its sequence and sub-sequence number).</summary>
    public Task CheckpointAsync(KinesisClientRecord record, CancellationToken cancellationToken = default) =>
        CheckpointAsync(record.SequenceNumber, record.SubSequenceNumber, cancellationToken);

    /// <summary>Checkpoints at (sequenceNumber, subSequenceNumber): records at or below it are not delivered again
    /// after a restart or a lease move.</summary>
    public Task CheckpointAsync(string sequenceNumber, long subSequenceNumber = 0, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(subSequenceNumber);
        if (!ExtendedSequenceNumber.IsValidSequenceNumber(sequenceNumber) || sequenceNumber is ExtendedSequenceNumber.TrimHorizonValue
                or ExtendedSequenceNumber.LatestValue or ExtendedSequenceNumber.AtTimestampValue)
            throw new ArgumentException($"'{sequenceNumber}' is not a sequence number to checkpoint at", nameof(sequenceNumber));
        return WriteAsync(new ExtendedSequenceNumber(sequenceNumber, subSequenceNumber), cancellationToken);
    }

    private async Task WriteAsync(ExtendedSequenceNumber value, CancellationToken cancellationToken)
    {
        if (Disabled)
            throw new InvalidStateException($"checkpointing is not allowed for {ShardId} after the lease was lost");
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (value > LargestPermittedCheckpointValue)
                throw new ArgumentException($"checkpoint {value} is beyond the largest record delivered ({LargestPermittedCheckpointValue})");
            if (value < LastCheckpointValue)
                throw new ArgumentException($"checkpoint {value} is before the last checkpoint ({LastCheckpointValue})");
            if (value == LastCheckpointValue)
                return;
            await _coordinator.CheckpointAsync(_lease, value, cancellationToken).ConfigureAwait(false);
            LastCheckpointValue = value;
        }
        finally
        {
            _gate.Release();
        }
    }
}
