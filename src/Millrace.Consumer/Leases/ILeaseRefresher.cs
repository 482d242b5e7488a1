namespace Millrace.Consumer.Leases;

/// <summary>Reads and writes the lease table. Every write that changes ownership or progress is conditional
/// (on leaseCounter, or on leaseOwner for eviction) and bumps leaseCounter, so concurrent workers never overwrite
/// each other. The conditional writes return false when the condition failed.</summary>
public interface ILeaseRefresher
{
    Task CreateLeaseTableIfNotExistsAsync(CancellationToken cancellationToken);

    Task<List<Lease>> ListLeasesAsync(CancellationToken cancellationToken);

    Task<Lease?> GetLeaseAsync(string leaseKey, CancellationToken cancellationToken);

    /// <summary>Puts the lease unless one with its key exists.</summary>
    Task<bool> CreateLeaseIfNotExistsAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Expects lease.LeaseCounter; sets counter+1. On success lease.LeaseCounter is the new value.</summary>
    Task<bool> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Expects lease.LeaseCounter; sets counter+1 and the owner, counts an owner switch when it changes.
    /// On success the lease holds the new counter and owner.</summary>
    Task<bool> TakeLeaseAsync(Lease lease, string owner, CancellationToken cancellationToken);

    /// <summary>Expects lease.LeaseOwner; removes the owner and adds 1 to the counter.</summary>
    Task<bool> EvictLeaseAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Expects lease.LeaseCounter; writes checkpoint, sub-sequence number and pending checkpoint, resets owner
    /// switches, sets counter+1.</summary>
    Task<bool> UpdateCheckpointAsync(Lease lease, CancellationToken cancellationToken);

    /// <summary>Writes childShardIds (not conditional on the counter, as the KCL's updateLeaseWithMetaInfo).</summary>
    Task UpdateChildShardIdsAsync(Lease lease, CancellationToken cancellationToken);

    Task DeleteLeaseAsync(string leaseKey, CancellationToken cancellationToken);
}
