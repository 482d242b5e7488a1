namespace Millrace.Storage;

/// <summary>Settings of <see cref="EmbeddedStreamStore"/>.</summary>
public sealed record EmbeddedStoreOptions
{
    /// <summary>Directory that holds catalog.json, the LOCK file and the log/ folder. Created when missing.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The active segment is rolled once it would grow beyond this size. Default 128 MiB.</summary>
    public long SegmentSizeBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>How often the background task deletes fully expired sealed segments. Default 1 minute.</summary>
    public TimeSpan RetentionCheckInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Source of arrival times and of "now" for retention.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The writer stops draining its queue into one batch once the batch holds this many bytes.</summary>
    public int MaxBatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Supplies the keys of encrypted appends and reads (see docs/storage.md). Null: the log refuses
    /// encrypted appends and cannot read encrypted blocks.</summary>
    public IEncryptionKeyProvider? EncryptionKeys { get; init; }
}
