using System.Text.Json;

namespace Millrace.Storage.Embedded;

/// <summary>
/// The catalog of the embedded store: an immutable in-memory snapshot for lock-free reads, and catalog.json on disk
/// rewritten atomically (temp file, fsync, rename, fsync of the directory) on every change. Writers are serialized.
/// </summary>
internal sealed class EmbeddedCatalog : IStreamCatalog, IDisposable
{
    public const string FileName = "catalog.json";
    private const int CurrentFormatVersion = 1;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
    };

    private readonly string _directory;
    private readonly string _path;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile State _state;

    private sealed record State(
        long NextStreamId,
        Dictionary<long, StreamDescription> ById,
        Dictionary<string, long> ByName,
        HashSet<long> Dropped)
    {
        public Dictionary<string, string> AccountSettings { get; init; } = new(StringComparer.Ordinal);
    }

    internal sealed class CatalogFile
    {
        public int FormatVersion { get; set; } = CurrentFormatVersion;

        public long NextStreamId { get; set; } = 1;

        public List<long> DroppedStreamIds { get; set; } = [];

        public List<StreamDescription> Streams { get; set; } = [];

        public Dictionary<string, string> AccountSettings { get; set; } = new(StringComparer.Ordinal);
    }

    private EmbeddedCatalog(string directory, State state)
    {
        _directory = directory;
        _path = Path.Combine(directory, FileName);
        _state = state;
    }

    /// <summary>Loads catalog.json (a missing file is an empty catalog). A leftover temp file of an interrupted write
    /// is deleted: the rename never happened, so catalog.json still holds the previous version.</summary>
    public static EmbeddedCatalog Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        File.Delete(path + ".tmp");
        CatalogFile file;
        if (File.Exists(path))
        {
            using var fs = File.OpenRead(path);
            file = JsonSerializer.Deserialize<CatalogFile>(fs, JsonOptions)
                ?? throw new InvalidDataException($"{path} is empty.");
            if (file.FormatVersion != CurrentFormatVersion)
            {
                throw new InvalidDataException($"{path} has unsupported format version {file.FormatVersion}.");
            }
        }
        else
        {
            file = new CatalogFile();
        }
        var byId = file.Streams.ToDictionary(s => s.StreamId);
        var byName = file.Streams.ToDictionary(s => s.StreamName, s => s.StreamId, StringComparer.Ordinal);
        long next = Math.Max(file.NextStreamId, byId.Count == 0 ? 1 : byId.Keys.Max() + 1);
        return new EmbeddedCatalog(directory, new State(next, byId, byName, [.. file.DroppedStreamIds])
        {
            AccountSettings = new Dictionary<string, string>(file.AccountSettings, StringComparer.Ordinal),
        });
    }

    /// <summary>True when the stream is in the catalog and its records were not dropped.</summary>
    public bool IsLive(long streamId)
    {
        var s = _state;
        return s.ById.ContainsKey(streamId) && !s.Dropped.Contains(streamId);
    }

    /// <summary>True when the catalog holds a description of the stream (dropped or not).</summary>
    public bool IsListed(long streamId) => _state.ById.ContainsKey(streamId);

    public bool TryGetRetentionHours(long streamId, out int hours)
    {
        var s = _state;
        if (s.ById.TryGetValue(streamId, out var d) && !s.Dropped.Contains(streamId))
        {
            hours = d.RetentionPeriodHours;
            return true;
        }
        hours = 0;
        return false;
    }

    public bool IsDropped(long streamId) => _state.Dropped.Contains(streamId);

    public IReadOnlyCollection<long> DroppedStreamIds => _state.Dropped;

    public ValueTask<IReadOnlyList<StreamDescription>> ListAsync(CancellationToken cancellationToken = default)
    {
        var s = _state;
        IReadOnlyList<StreamDescription> list = [.. s.ById.Values.OrderBy(d => d.StreamName, StringComparer.Ordinal)];
        return ValueTask.FromResult(list);
    }

    public ValueTask<StreamDescription?> FindAsync(string streamName, CancellationToken cancellationToken = default)
    {
        var s = _state;
        return ValueTask.FromResult(s.ByName.TryGetValue(streamName, out long id) ? s.ById[id] : null);
    }

    public async ValueTask<StreamDescription> CreateAsync(StreamDescription stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            if (s.ByName.ContainsKey(stream.StreamName))
            {
                throw new CatalogConflictException($"Stream {stream.StreamName} already exists.");
            }
            var stored = stream with { StreamId = s.NextStreamId, Version = 1 };
            var byId = new Dictionary<long, StreamDescription>(s.ById) { [stored.StreamId] = stored };
            var byName = new Dictionary<string, long>(s.ByName, StringComparer.Ordinal) { [stored.StreamName] = stored.StreamId };
            Commit(s with { NextStreamId = s.NextStreamId + 1, ById = byId, ByName = byName });
            return stored;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask<StreamDescription> UpdateAsync(StreamDescription stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            if (!s.ById.TryGetValue(stream.StreamId, out var current))
            {
                throw new CatalogConflictException($"Stream {stream.StreamName} (id {stream.StreamId}) does not exist.");
            }
            if (current.Version != stream.Version)
            {
                throw new CatalogConflictException(
                    $"Stream {stream.StreamName} was changed concurrently (version {current.Version}, expected {stream.Version}).");
            }
            if (current.StreamName != stream.StreamName && s.ByName.ContainsKey(stream.StreamName))
            {
                throw new CatalogConflictException($"Stream {stream.StreamName} already exists.");
            }
            var stored = stream with { Version = current.Version + 1 };
            var byId = new Dictionary<long, StreamDescription>(s.ById) { [stored.StreamId] = stored };
            var byName = new Dictionary<string, long>(s.ByName, StringComparer.Ordinal);
            byName.Remove(current.StreamName);
            byName[stored.StreamName] = stored.StreamId;
            Commit(s with { ById = byId, ByName = byName });
            return stored;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DeleteAsync(long streamId, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            if (!s.ById.TryGetValue(streamId, out var current))
            {
                return;
            }
            var byId = new Dictionary<long, StreamDescription>(s.ById);
            byId.Remove(streamId);
            var byName = new Dictionary<string, long>(s.ByName, StringComparer.Ordinal);
            byName.Remove(current.StreamName);
            Commit(s with { ById = byId, ByName = byName });
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Durably records that a stream's records are dropped (so they stay hidden after a restart even while
    /// the stream is still listed, e.g. in DELETING state).</summary>
    public async ValueTask MarkDroppedAsync(long streamId, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            if (s.Dropped.Contains(streamId))
            {
                return;
            }
            Commit(s with { Dropped = [.. s.Dropped, streamId] });
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Forgets dropped ids of which no block is left on disk.</summary>
    public async ValueTask ForgetDroppedAsync(IReadOnlyCollection<long> streamIds, CancellationToken cancellationToken)
    {
        if (streamIds.Count == 0)
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            var dropped = new HashSet<long>(s.Dropped);
            dropped.ExceptWith(streamIds);
            if (dropped.Count != s.Dropped.Count)
            {
                Commit(s with { Dropped = dropped });
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public ValueTask<string?> GetAccountSettingAsync(string key, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_state.AccountSettings.TryGetValue(key, out var json) ? json : null);

    public async ValueTask SetAccountSettingAsync(string key, string? json, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var s = _state;
            var settings = new Dictionary<string, string>(s.AccountSettings, StringComparer.Ordinal);
            if (json is null)
            {
                settings.Remove(key);
            }
            else
            {
                settings[key] = json;
            }

            Commit(s with { AccountSettings = settings });
        }
        finally
        {
            _gate.Release();
        }
    }

    private void Commit(State next)
    {
        var file = new CatalogFile
        {
            NextStreamId = next.NextStreamId,
            DroppedStreamIds = [.. next.Dropped.Order()],
            Streams = [.. next.ById.Values.OrderBy(d => d.StreamId)],
            AccountSettings = next.AccountSettings,
        };
        string tmp = _path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096))
        {
            JsonSerializer.Serialize(fs, file, JsonOptions);
            fs.Flush(true);
        }
        File.Move(tmp, _path, overwrite: true);
        DirectorySync.Fsync(_directory);
        _state = next;
    }

    public void Dispose() => _gate.Dispose();
}
