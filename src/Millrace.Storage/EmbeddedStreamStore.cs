using Millrace.Storage.Embedded;

namespace Millrace.Storage;

/// <summary>
/// The embedded, durable storage backend: a catalog in catalog.json and a segmented, fsynced record log, all under one
/// data directory that one process at a time may open. See docs/storage.md.
/// </summary>
public sealed class EmbeddedStreamStore : IStreamStore
{
    public const string LockFileName = "LOCK";

    private readonly FileStream _lock;
    private readonly EmbeddedCatalog _catalog;
    private readonly EmbeddedRecordLog _log;
    private int _disposed;

    private EmbeddedStreamStore(FileStream lockFile, EmbeddedCatalog catalog, EmbeddedRecordLog log)
    {
        _lock = lockFile;
        _catalog = catalog;
        _log = log;
    }

    public IStreamCatalog Catalog => _catalog;

    public IRecordLog Records => _log;

    internal EmbeddedRecordLog Log => _log;

    /// <summary>Opens (creating when needed) the store in <see cref="EmbeddedStoreOptions.DataDirectory"/> and
    /// recovers it: locks the directory, loads the catalog and the segment indexes, and cuts a torn tail.</summary>
    /// <exception cref="IOException">The directory is locked by another open store.</exception>
    public static Task<EmbeddedStreamStore> OpenAsync(EmbeddedStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.DataDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentSizeBytes, 4096L);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RetentionCheckInterval, TimeSpan.Zero);
        return Task.Run(() => Open(options), cancellationToken);
    }

    private static EmbeddedStreamStore Open(EmbeddedStoreOptions options)
    {
        Directory.CreateDirectory(options.DataDirectory);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(options.DataDirectory, LockFileName), FileMode.OpenOrCreate,
                FileAccess.ReadWrite, FileShare.None, 1);
        }
        catch (IOException ex)
        {
            throw new IOException($"The data directory '{options.DataDirectory}' is in use by another process.", ex);
        }
        EmbeddedCatalog? catalog = null;
        try
        {
            catalog = EmbeddedCatalog.Load(options.DataDirectory);
            var log = EmbeddedRecordLog.Open(options, catalog);
            return new EmbeddedStreamStore(lockFile, catalog, log);
        }
        catch
        {
            catalog?.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _log.FlushAsync(cancellationToken);

    /// <summary>Finishes and fsyncs pending appends, closes files and releases the directory lock.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _log.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _catalog.Dispose();
            await _lock.DisposeAsync().ConfigureAwait(false);
        }
    }
}
