using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace Millrace.Storage.Embedded;

/// <summary>
/// The record log of the embedded store: segment files written by one writer loop with group commit, an in-memory
/// block index per shard, reads through cached <see cref="RandomAccess"/> handles. See docs/storage.md.
/// </summary>
internal sealed class EmbeddedRecordLog : IRecordLog, IAsyncDisposable
{
    private const int InitialBufferSize = 1 << 20;
    private const int MaxIdleBufferSize = 16 << 20;

    private readonly EmbeddedStoreOptions _options;
    private readonly EmbeddedCatalog _catalog;
    private readonly TimeProvider _clock;
    private readonly string _logDir;
    private readonly ConcurrentDictionary<ShardKey, ShardState> _shards = new();
    private readonly Channel<WriteRequest> _queue =
        Channel.CreateUnbounded<WriteRequest>(new UnboundedChannelOptions { SingleReader = true });

    // Segments (sealed and active) with the newest arrival time per stream; guarded by _segmentsLock.
    private readonly Lock _segmentsLock = new();
    private readonly SortedDictionary<long, SegmentInfo> _segments = [];
    private long _activeId;

    private readonly Lock _handlesLock = new();
    private readonly Dictionary<long, SafeFileHandle> _readHandles = [];

    // Writer-owned state.
    private FileStream _activeStream = null!;
    private long _activeLength;
    private int _activeRecordBlocks;
    private readonly List<SegmentIndexEntry> _activeEntries = [];
    private byte[] _buf = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private int _bufLen;
    private readonly Dictionary<ShardKey, ShardState> _pendingOpens = [];
    private readonly List<WriteRequest> _batch = [];
    private readonly List<Publication> _pubs = [];
    private readonly List<ShardState> _snapshotScratch = [];
    private readonly Dictionary<string, (AesGcm Cipher, byte[] KeyId)> _writeCiphers = new(StringComparer.Ordinal);
    private Exception? _fatal;

    private readonly CancellationTokenSource _stopping = new();
    private Task _writerTask = Task.CompletedTask;
    private Task _retentionTask = Task.CompletedTask;
    private readonly SemaphoreSlim _retentionGate = new(1, 1);
    private volatile bool _disposed;
    private long _fsyncCount;

    private EmbeddedRecordLog(EmbeddedStoreOptions options, EmbeddedCatalog catalog, string logDir)
    {
        _options = options;
        _catalog = catalog;
        _clock = options.Clock;
        _logDir = logDir;
    }

    /// <summary>Number of fsyncs of segment data (for tests of group commit).</summary>
    internal long FsyncCount => Interlocked.Read(ref _fsyncCount);

    /// <summary>Bytes cut from the active segment's torn tail at open.</summary>
    internal long TruncatedBytes { get; private set; }

    /// <summary>Number of .idx files rebuilt by scanning at open.</summary>
    internal int RebuiltIndexFiles { get; private set; }

    internal long ActiveSegmentId
    {
        get
        {
            lock (_segmentsLock)
            {
                return _activeId;
            }
        }
    }

    internal string LogDirectory => _logDir;

    private sealed class SegmentInfo(long id)
    {
        public long Id { get; } = id;

        public Dictionary<long, long> MaxArrivalByStream { get; } = [];

        public void Note(long streamId, long arrivalMs)
        {
            ref long slot = ref CollectionsMarshal.GetValueRefOrAddDefault(MaxArrivalByStream, streamId, out bool existed);
            if (!existed || arrivalMs > slot)
            {
                slot = arrivalMs;
            }
        }
    }

    private enum RequestKind
    {
        Append,
        Open,
        Seal,
        Flush,
    }

    private sealed class WriteRequest(RequestKind kind)
    {
        public RequestKind Kind { get; } = kind;
        public long StreamId;
        public ReadOnlyMemory<AppendEntry> Entries;
        public Memory<AppendedRecord> Results;
        public ShardKey Shard;
        public ulong StartingPosition;
        public string? KeyId;
        public Exception? Error;
        public ulong? SealResult;
        public TaskCompletionSource<ulong?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly record struct Publication(ShardState State, BlockType Type, BlockEntry Entry);

    // ------------------------------------------------------------------ open / recovery

    public static EmbeddedRecordLog Open(EmbeddedStoreOptions options, EmbeddedCatalog catalog)
    {
        string logDir = Path.Combine(options.DataDirectory, "log");
        Directory.CreateDirectory(logDir);
        var log = new EmbeddedRecordLog(options, catalog, logDir);
        log.Recover();
        log._writerTask = Task.Run(log.WriterLoopAsync);
        log._retentionTask = Task.Run(log.RetentionLoopAsync);
        return log;
    }

    private string SegmentPath(long id) => Path.Combine(_logDir, LogFormat.SegmentFileName(id));

    private string IndexPath(long id) => Path.Combine(_logDir, LogFormat.IndexFileName(id));

    private sealed class ActiveScan
    {
        public readonly List<SnapshotEntry> Snapshot = [];
        public readonly List<(BlockHeader Header, long Offset)> Blocks = [];
        public LogFormat.ScanResult Result;
        public bool FirstIsSnapshot;
    }

    private void Recover()
    {
        foreach (string tmp in Directory.EnumerateFiles(_logDir, "*.tmp"))
        {
            File.Delete(tmp);
        }
        var ids = new List<long>();
        foreach (string f in Directory.EnumerateFiles(_logDir, "*.seg"))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(f), out long id) && id > 0)
            {
                ids.Add(id);
            }
        }
        ids.Sort();
        foreach (string f in Directory.EnumerateFiles(_logDir, "*.idx"))
        {
            if (!long.TryParse(Path.GetFileNameWithoutExtension(f), out long id) || ids.BinarySearch(id) < 0)
            {
                File.Delete(f);
            }
        }

        // 1. Find the active (newest) segment. A newest segment without an intact header and snapshot block was being
        //    created when the process died; nothing in it was acknowledged, so it is deleted.
        ActiveScan? active = null;
        long newActiveId = 1;
        while (ids.Count > 0)
        {
            long id = ids[^1];
            var scan = ScanActive(id);
            if (scan.Result.HeaderValid && scan.FirstIsSnapshot)
            {
                active = scan;
                break;
            }
            newActiveId = id;
            File.Delete(SegmentPath(id));
            File.Delete(IndexPath(id));
            ids.RemoveAt(ids.Count - 1);
            DirectorySync.Fsync(_logDir);
        }

        long activeId;
        if (active is null)
        {
            activeId = newActiveId;
            _activeStream = new FileStream(SegmentPath(activeId), FileMode.CreateNew, FileAccess.Write,
                FileShare.ReadWrite | FileShare.Delete, 1);
            DirectorySync.Fsync(_logDir);
            _activeId = activeId;
            _segments[activeId] = new SegmentInfo(activeId);
            WriteSegmentStart(activeId);
            FlushBuffer();
            ids.Add(activeId);
        }
        else
        {
            activeId = ids[^1];
            var r = active.Result;
            if (r.ValidLength < r.FileLength)
            {
                // 2. Cut the torn or corrupt tail: it was never acknowledged.
                using var fs = new FileStream(SegmentPath(activeId), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1);
                fs.SetLength(r.ValidLength);
                fs.Flush(true);
                TruncatedBytes = r.FileLength - r.ValidLength;
            }
            File.Delete(IndexPath(activeId)); // the segment is active again (its successor was never completed)
            _activeStream = new FileStream(SegmentPath(activeId), FileMode.Open, FileAccess.Write,
                FileShare.ReadWrite | FileShare.Delete, 1);
            _activeStream.Seek(r.ValidLength, SeekOrigin.Begin);
            _activeLength = r.ValidLength;
            _activeId = activeId;
        }

        // 3. Shard states: the snapshot at the start of the active segment, then its open/seal/record blocks.
        var states = new Dictionary<ShardKey, ShardState>();
        if (active is not null)
        {
            foreach (var s in active.Snapshot)
            {
                if (_catalog.IsLive(s.StreamId))
                {
                    var st = new ShardState(new ShardKey(s.StreamId, s.ShardIndex), s.StartingPosition)
                    {
                        WLastPosition = s.LastPosition,
                        LastPosition = s.LastPosition,
                        WLastArrivalMs = s.LastArrivalMs,
                        LastArrivalMs = s.LastArrivalMs,
                        WSealed = s.Sealed,
                        Sealed = s.Sealed,
                    };
                    states[st.Key] = st;
                }
            }
            foreach (var (h, _) in active.Blocks)
            {
                var key = new ShardKey(h.StreamId, h.ShardIndex);
                switch (h.Type)
                {
                    case BlockType.ShardOpened when _catalog.IsLive(h.StreamId) && !states.ContainsKey(key):
                        states[key] = new ShardState(key, h.FirstPosition);
                        break;
                    case BlockType.ShardSealed when states.TryGetValue(key, out var sealedState):
                        sealedState.Sealed = sealedState.WSealed = true;
                        break;
                    case BlockType.Records when states.TryGetValue(key, out var st):
                        ulong last = h.FirstPosition + (ulong)h.RecordCount - 1;
                        if (last > st.LastPosition)
                        {
                            st.LastPosition = st.WLastPosition = last;
                        }
                        st.LastArrivalMs = st.WLastArrivalMs = Math.Max(st.LastArrivalMs, h.ArrivalMs);
                        break;
                }
            }
        }

        // 4. Block index: .idx of sealed segments (rebuilt by a scan when missing or corrupt), then the active scan.
        foreach (long id in ids)
        {
            var info = new SegmentInfo(id);
            _segments[id] = info;
            IReadOnlyList<SegmentIndexEntry> entries;
            if (id == activeId)
            {
                if (active is null)
                {
                    continue;
                }
                foreach (var (h, offset) in active.Blocks)
                {
                    if (h.Type == BlockType.Records)
                    {
                        _activeEntries.Add(new SegmentIndexEntry(h.StreamId, h.ShardIndex, h.RecordCount, h.FirstPosition,
                            h.ArrivalMs, offset, h.Length));
                    }
                }
                _activeRecordBlocks = _activeEntries.Count;
                entries = _activeEntries;
            }
            else
            {
                entries = LoadOrRebuildIndex(id);
            }
            foreach (var e in entries)
            {
                info.Note(e.StreamId, e.ArrivalMs);
                if (states.TryGetValue(new ShardKey(e.StreamId, e.ShardIndex), out var st))
                {
                    var be = new BlockEntry(e.FirstPosition, e.ArrivalMs, id, e.Offset, e.RecordCount, e.Length);
                    if (st.Index.Count == 0 || st.Index[st.Index.Count - 1].LastPosition < be.FirstPosition)
                    {
                        st.Index.Add(be);
                    }
                }
            }
        }
        foreach (var st in states.Values)
        {
            _shards[st.Key] = st;
        }
    }

    private ActiveScan ScanActive(long id)
    {
        var scan = new ActiveScan();
        using var handle = File.OpenHandle(SegmentPath(id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        bool first = true;
        scan.Result = LogFormat.ScanSegment(handle, id, (in BlockHeader h, long offset, ReadOnlySpan<byte> block) =>
        {
            if (first)
            {
                first = false;
                if (h.Type != BlockType.Snapshot)
                {
                    return;
                }
                scan.FirstIsSnapshot = true;
                for (int i = 0; i < h.RecordCount; i++)
                {
                    scan.Snapshot.Add(LogFormat.ReadSnapshotEntry(block[(LogFormat.BlockHeaderSize + (i * LogFormat.SnapshotEntrySize))..]));
                }
                return;
            }
            if (h.Type != BlockType.Snapshot)
            {
                scan.Blocks.Add((h, offset));
            }
        });
        return scan;
    }

    private IReadOnlyList<SegmentIndexEntry> LoadOrRebuildIndex(long id)
    {
        long length = new FileInfo(SegmentPath(id)).Length;
        var entries = LogFormat.TryReadIndexFile(IndexPath(id), id, length);
        if (entries is not null)
        {
            return entries;
        }
        var rebuilt = new List<SegmentIndexEntry>();
        using (var handle = File.OpenHandle(SegmentPath(id), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            LogFormat.ScanSegment(handle, id, (in BlockHeader h, long offset, ReadOnlySpan<byte> _) =>
            {
                if (h.Type == BlockType.Records)
                {
                    rebuilt.Add(new SegmentIndexEntry(h.StreamId, h.ShardIndex, h.RecordCount, h.FirstPosition, h.ArrivalMs, offset, h.Length));
                }
            });
        }
        LogFormat.WriteIndexFile(IndexPath(id), id, length, rebuilt);
        DirectorySync.Fsync(_logDir);
        RebuiltIndexFiles++;
        return rebuilt;
    }

    // ------------------------------------------------------------------ public API

    public ValueTask OpenShardAsync(ShardKey shard, ulong startingPosition, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (_shards.ContainsKey(shard))
        {
            return ValueTask.CompletedTask;
        }
        var req = new WriteRequest(RequestKind.Open) { Shard = shard, StartingPosition = startingPosition };
        return new ValueTask(Enqueue(req));
    }

    public ValueTask AppendAsync(long streamId, ReadOnlyMemory<AppendEntry> entries, Memory<AppendedRecord> results,
        CancellationToken cancellationToken = default) =>
        AppendAsync(streamId, entries, results, null, cancellationToken);

    public ValueTask AppendAsync(long streamId, ReadOnlyMemory<AppendEntry> entries, Memory<AppendedRecord> results,
        string? encryptionKeyId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        if (encryptionKeyId is not null
            && (encryptionKeyId.Length == 0 || Encoding.UTF8.GetByteCount(encryptionKeyId) > BlockCipher.MaxKeyIdBytes))
        {
            throw new ArgumentException("An encryption key id must be 1 to 255 UTF-8 bytes.", nameof(encryptionKeyId));
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (results.Length < entries.Length)
        {
            throw new ArgumentException("results must have room for one result per entry.", nameof(results));
        }
        if (entries.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }
        // Once queued an append cannot be cancelled: it may already be on disk.
        var req = new WriteRequest(RequestKind.Append) { StreamId = streamId, Entries = entries, Results = results, KeyId = encryptionKeyId };
        return new ValueTask(Enqueue(req));
    }

    public async ValueTask<ulong?> SealShardAsync(ShardKey shard, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        return await Enqueue(new WriteRequest(RequestKind.Seal) { Shard = shard }).ConfigureAwait(false);
    }

    /// <summary>Completes after everything queued before it is durable.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }
        return new ValueTask(Enqueue(new WriteRequest(RequestKind.Flush)).WaitAsync(cancellationToken));
    }

    private Task<ulong?> Enqueue(WriteRequest req)
    {
        if (!_queue.Writer.TryWrite(req))
        {
            throw new ObjectDisposedException(nameof(EmbeddedStreamStore));
        }
        return req.Completion.Task;
    }

    public async ValueTask<ShardReadResult> ReadAsync(ShardKey shard, ulong fromPosition, int maxRecords, long maxBytes,
        long notBeforeMs, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecords, 1);
        for (int attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return ReadCore(shard, fromPosition, maxRecords, maxBytes, notBeforeMs);
            }
            catch (Exception ex) when (attempt < 3 && ex is ObjectDisposedException or FileNotFoundException)
            {
                // The segment was deleted by retention between the index lookup and the read; the index no longer
                // lists it, so look again.
                await Task.Yield();
            }
        }
    }

    private ShardReadResult ReadCore(ShardKey shard, ulong fromPosition, int maxRecords, long maxBytes, long notBeforeMs)
    {
        var st = GetShard(shard);
        ulong tip, last, trimHorizon;
        long tipArrival;
        bool isSealed;
        BlockEntry[] picked = ArrayPool<BlockEntry>.Shared.Rent(16);
        int pickedCount = 0;
        BlockDecryptor? decryptor = null;
        try
        {
            lock (st)
            {
                ThrowIfDropped(st);
                tip = st.TipPosition;
                last = st.LastPosition;
                tipArrival = st.LastArrivalMs;
                isSealed = st.Sealed;
                var index = st.Index;
                int retained = index.FirstArrivalAtOrAfter(notBeforeMs);
                trimHorizon = retained < index.Count ? index[retained].FirstPosition : tip;
                int i = Math.Max(retained, index.FirstEndingAtOrAfter(fromPosition));
                long records = 0, bytes = 0;
                for (; i < index.Count && records < maxRecords && bytes < maxBytes; i++)
                {
                    var e = index[i];
                    if (pickedCount == picked.Length)
                    {
                        var bigger = ArrayPool<BlockEntry>.Shared.Rent(picked.Length * 2);
                        picked.AsSpan(0, pickedCount).CopyTo(bigger);
                        ArrayPool<BlockEntry>.Shared.Return(picked);
                        picked = bigger;
                    }
                    picked[pickedCount++] = e;
                    records += (long)(e.LastPosition - Math.Max(e.FirstPosition, fromPosition)) + 1;
                    bytes += e.Length;
                }
            }

            var result = new List<StoredRecord>(Math.Min(maxRecords, 1024));
            long dataBytes = 0;
            bool full = false;
            for (int b = 0; b < pickedCount && !full; b++)
            {
                var e = picked[b];
                byte[] block = ReadBlock(e);
                int pos = LogFormat.BlockHeaderSize;
                string? keyId = null;
                if ((LogFormat.ReadBlockHeader(block).Flags & LogFormat.FlagEncrypted) != 0)
                {
                    decryptor ??= new BlockDecryptor(_options.EncryptionKeys);
                    keyId = decryptor.Decrypt(block, e, out pos, out _);
                }
                for (int r = 0; r < e.RecordCount; r++)
                {
                    int keyLen = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(block.AsSpan(pos));
                    int dataLen = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(pos + 2));
                    ulong position = e.FirstPosition + (ulong)r;
                    int keyStart = pos + LogFormat.RecordHeaderSize;
                    pos = keyStart + keyLen + dataLen;
                    if (position < fromPosition)
                    {
                        continue;
                    }
                    if (result.Count >= maxRecords || (result.Count > 0 && dataBytes + keyLen + dataLen > maxBytes))
                    {
                        full = true;
                        break;
                    }
                    result.Add(new StoredRecord(position, e.ArrivalMs, block.AsMemory(keyStart, keyLen),
                        block.AsMemory(keyStart + keyLen, dataLen)) { EncryptionKeyId = keyId });
                    dataBytes += keyLen + dataLen;
                }
            }

            ulong next = result.Count > 0 ? result[^1].Position + 1 : Math.Max(fromPosition, trimHorizon);
            bool ended = isSealed && (last == 0 || next > last);
            return new ShardReadResult(result, next, tip, tipArrival, ended);
        }
        finally
        {
            ArrayPool<BlockEntry>.Shared.Return(picked);
            decryptor?.Dispose();
        }
    }

    private byte[] ReadBlock(in BlockEntry e)
    {
        var handle = GetReadHandle(e.SegmentId);
        byte[] block = GC.AllocateUninitializedArray<byte>(e.Length);
        int read = 0;
        while (read < block.Length)
        {
            int n = RandomAccess.Read(handle, block.AsSpan(read), e.Offset + read);
            if (n <= 0)
            {
                throw new InvalidDataException($"Segment {e.SegmentId} is shorter than its index says (offset {e.Offset}).");
            }
            read += n;
        }
        if (!LogFormat.VerifyBlock(block) || LogFormat.ReadBlockHeader(block).FirstPosition != e.FirstPosition)
        {
            throw new InvalidDataException($"Block at offset {e.Offset} of segment {e.SegmentId} is corrupt (CRC mismatch).");
        }
        return block;
    }

    private SafeFileHandle GetReadHandle(long segmentId)
    {
        lock (_handlesLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_readHandles.TryGetValue(segmentId, out var handle))
            {
                lock (_segmentsLock)
                {
                    if (!_segments.ContainsKey(segmentId))
                    {
                        // Deleted by retention after the caller looked at the index: do not reopen (and leak) it.
                        throw new FileNotFoundException($"Segment {segmentId} was deleted.");
                    }
                }
                handle = File.OpenHandle(SegmentPath(segmentId), FileMode.Open, FileAccess.Read,
                    FileShare.ReadWrite | FileShare.Delete, FileOptions.RandomAccess);
                _readHandles[segmentId] = handle;
            }
            return handle;
        }
    }

    public ValueTask<ShardPositions> GetPositionsAsync(ShardKey shard, long notBeforeMs, CancellationToken cancellationToken = default)
    {
        var st = GetShard(shard);
        lock (st)
        {
            ThrowIfDropped(st);
            ulong tip = st.TipPosition;
            int retained = st.Index.FirstArrivalAtOrAfter(notBeforeMs);
            ulong trim = retained < st.Index.Count ? st.Index[retained].FirstPosition : tip;
            return ValueTask.FromResult(new ShardPositions(trim, tip, st.LastPosition == 0 ? null : st.LastPosition, st.Sealed));
        }
    }

    public ValueTask<ulong> FindPositionByTimestampAsync(ShardKey shard, long timestampMs, long notBeforeMs,
        CancellationToken cancellationToken = default)
    {
        var st = GetShard(shard);
        lock (st)
        {
            ThrowIfDropped(st);
            int i = st.Index.FirstArrivalAtOrAfter(Math.Max(timestampMs, notBeforeMs));
            return ValueTask.FromResult(i < st.Index.Count ? st.Index[i].FirstPosition : st.TipPosition);
        }
    }

    public async ValueTask DropStreamAsync(long streamId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        await _catalog.MarkDroppedAsync(streamId, cancellationToken).ConfigureAwait(false);
        foreach (var key in _shards.Keys)
        {
            if (key.StreamId == streamId && _shards.TryRemove(key, out var st))
            {
                lock (st)
                {
                    st.Dropped = true;
                    st.Index.Clear();
                }
                st.Signal();
            }
        }
    }

    public async ValueTask WaitForDataAsync(ShardKey shard, ulong position, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfDisposed();
            var st = GetShard(shard);
            Task signal;
            lock (st)
            {
                ThrowIfDropped(st);
                if (st.Sealed || (st.LastPosition != 0 && st.LastPosition >= position))
                {
                    return;
                }
                signal = st.GetSignalTask();
            }
            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private ShardState GetShard(ShardKey shard) =>
        _shards.TryGetValue(shard, out var st) ? st : throw new ShardUnavailableException(shard, "the shard is not open");

    private static void ThrowIfDropped(ShardState st)
    {
        if (st.Dropped)
        {
            throw new ShardUnavailableException(st.Key, "the stream was deleted");
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    // ------------------------------------------------------------------ writer loop

    private async Task WriterLoopAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            long nowMs = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            try
            {
                while (_bufLen < _options.MaxBatchBytes && reader.TryRead(out var req))
                {
                    _batch.Add(req);
                    if (_fatal is not null)
                    {
                        req.Error = new IOException("The record log failed earlier and accepts no more writes.", _fatal);
                        continue;
                    }
                    Serialize(req, nowMs);
                }
                if (_fatal is null)
                {
                    FlushBuffer();
                    Publish();
                }
            }
            catch (Exception ex)
            {
                // An I/O failure leaves the file in an unknown state: fail this batch and every later request. A
                // restart recovers whatever reached the disk intact.
                _fatal = ex;
                foreach (var r in _batch)
                {
                    r.Error ??= new IOException("The record log failed to write.", ex);
                }
            }
            foreach (var r in _batch)
            {
                if (r.Error is not null)
                {
                    r.Completion.TrySetException(r.Error);
                }
                else
                {
                    r.Completion.TrySetResult(r.SealResult);
                }
            }
            _batch.Clear();
            _pubs.Clear();
            _pendingOpens.Clear();
            _bufLen = 0;
            if (_buf.Length > MaxIdleBufferSize)
            {
                ArrayPool<byte>.Shared.Return(_buf);
                _buf = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
            }
        }
    }

    private ShardState? LookupForWrite(ShardKey key)
    {
        if (_pendingOpens.TryGetValue(key, out var st) || _shards.TryGetValue(key, out st))
        {
            return Volatile.Read(ref st.Dropped) ? null : st;
        }
        return null;
    }

    private void Serialize(WriteRequest req, long nowMs)
    {
        switch (req.Kind)
        {
            case RequestKind.Append:
                SerializeAppend(req, nowMs);
                break;
            case RequestKind.Open:
                if (LookupForWrite(req.Shard) is not null)
                {
                    return;
                }
                if (!_catalog.IsLive(req.Shard.StreamId))
                {
                    // Only streams of the catalog survive a restart, so the log accepts no others.
                    req.Error = new ShardUnavailableException(req.Shard, "the stream is not in the catalog or was deleted");
                    return;
                }
                var opened = new ShardState(req.Shard, req.StartingPosition);
                _pendingOpens[req.Shard] = opened;
                WriteEventBlock(BlockType.ShardOpened, req.Shard, req.StartingPosition);
                _pubs.Add(new Publication(opened, BlockType.ShardOpened, default));
                break;
            case RequestKind.Seal:
                var st = LookupForWrite(req.Shard);
                if (st is null)
                {
                    req.Error = new ShardUnavailableException(req.Shard, "the shard is not open");
                    return;
                }
                req.SealResult = st.WLastPosition == 0 ? null : st.WLastPosition;
                if (!st.WSealed)
                {
                    st.WSealed = true;
                    WriteEventBlock(BlockType.ShardSealed, req.Shard, st.WLastPosition);
                    _pubs.Add(new Publication(st, BlockType.ShardSealed, default));
                }
                break;
            case RequestKind.Flush:
                break;
        }
    }

    private void WriteEventBlock(BlockType type, ShardKey shard, ulong position)
    {
        MaybeRoll(LogFormat.BlockHeaderSize);
        EnsureCapacity(LogFormat.BlockHeaderSize);
        var block = _buf.AsSpan(_bufLen, LogFormat.BlockHeaderSize);
        LogFormat.WriteBlockHeader(block, LogFormat.BlockHeaderSize, type, shard.StreamId, shard.ShardIndex, 0, position, 0);
        LogFormat.SealBlock(block);
        _bufLen += LogFormat.BlockHeaderSize;
    }

    private void SerializeAppend(WriteRequest req, long nowMs)
    {
        var entries = req.Entries.Span;
        int n = entries.Length;
        long[] keys = ArrayPool<long>.Shared.Rent(n);
        try
        {
            // Validate everything before writing anything: the whole call fails or none of it does.
            for (int i = 0; i < n; i++)
            {
                ref readonly var e = ref entries[i];
                if (e.ShardIndex < 0)
                {
                    req.Error = new ShardUnavailableException(new ShardKey(req.StreamId, e.ShardIndex), "invalid shard index");
                    return;
                }
                if (e.PartitionKey.Length > ushort.MaxValue)
                {
                    req.Error = new ArgumentException("A partition key is longer than 65535 bytes.");
                    return;
                }
                keys[i] = ((long)e.ShardIndex << 32) | (uint)i;
            }
            if (!_catalog.IsLive(req.StreamId))
            {
                req.Error = new ShardUnavailableException(new ShardKey(req.StreamId, entries[0].ShardIndex),
                    "the stream is not in the catalog or was deleted");
                return;
            }
            AesGcm? cipher = null;
            byte[] keyIdBytes = [];
            if (req.KeyId is not null)
            {
                if (!_writeCiphers.TryGetValue(req.KeyId, out var cached))
                {
                    var created = BlockCipher.TryCreate(_options.EncryptionKeys, req.KeyId);
                    if (created is null)
                    {
                        req.Error = new EncryptionKeyUnavailableException(req.KeyId);
                        return;
                    }
                    cached = (created, Encoding.UTF8.GetBytes(req.KeyId));
                    _writeCiphers[req.KeyId] = cached;
                }
                (cipher, keyIdBytes) = cached;
            }
            int overhead = cipher is null ? 0 : BlockCipher.Overhead(keyIdBytes.Length);
            var sorted = keys.AsSpan(0, n);
            sorted.Sort(); // groups entries by shard, entry order kept inside a group

            long total = 0;
            for (int g = 0; g < n;)
            {
                int shardIndex = (int)(sorted[g] >> 32);
                var st = LookupForWrite(new ShardKey(req.StreamId, shardIndex));
                if (st is null || st.WSealed)
                {
                    req.Error = new ShardUnavailableException(new ShardKey(req.StreamId, shardIndex),
                        st is null ? "the shard is not open" : "the shard is sealed");
                    return;
                }
                long blockSize = LogFormat.BlockHeaderSize + overhead;
                int end = g;
                for (; end < n && (int)(sorted[end] >> 32) == shardIndex; end++)
                {
                    ref readonly var e = ref entries[(int)(uint)sorted[end]];
                    blockSize += LogFormat.RecordHeaderSize + e.PartitionKey.Length + e.Data.Length;
                }
                if (blockSize > LogFormat.MaxBlockLength)
                {
                    req.Error = new ArgumentException("Too much data for one shard in one append.");
                    return;
                }
                total += blockSize;
                g = end;
            }
            if (total > int.MaxValue / 2)
            {
                req.Error = new ArgumentException("Too much data in one append.");
                return;
            }

            MaybeRoll(total);
            EnsureCapacity((int)total);
            var results = req.Results.Span;
            for (int g = 0; g < n;)
            {
                int shardIndex = (int)(sorted[g] >> 32);
                var st = LookupForWrite(new ShardKey(req.StreamId, shardIndex))!;
                long arrival = Math.Max(st.WLastArrivalMs, nowMs);
                ulong first = Math.Max(Math.Max(st.WLastPosition + 1, (ulong)arrival << 20), st.StartingPosition + 1);
                int blockStart = _bufLen;
                int pos = blockStart + LogFormat.BlockHeaderSize;
                if (cipher is not null)
                {
                    pos += BlockCipher.WritePrefix(_buf.AsSpan(pos), keyIdBytes);
                }
                int count = 0;
                for (; g < n && (int)(sorted[g] >> 32) == shardIndex; g++, count++)
                {
                    int idx = (int)(uint)sorted[g];
                    ref readonly var e = ref entries[idx];
                    pos += LogFormat.WriteRecord(_buf.AsSpan(pos), e.PartitionKey.Span, e.Data.Span);
                    results[idx] = new AppendedRecord(first + (ulong)count, arrival);
                }
                if (cipher is not null)
                {
                    pos += BlockCipher.TagSize;
                }
                int length = pos - blockStart;
                var block = _buf.AsSpan(blockStart, length);
                LogFormat.WriteBlockHeader(block, length, BlockType.Records, req.StreamId, shardIndex, count, first, arrival,
                    cipher is null ? (ushort)0 : LogFormat.FlagEncrypted);
                if (cipher is not null)
                {
                    BlockCipher.Encrypt(cipher, block);
                }
                LogFormat.SealBlock(block);
                st.WLastPosition = first + (ulong)count - 1;
                st.WLastArrivalMs = arrival;
                long offset = _activeLength + blockStart;
                _activeEntries.Add(new SegmentIndexEntry(req.StreamId, shardIndex, count, first, arrival, offset, length));
                _pubs.Add(new Publication(st, BlockType.Records, new BlockEntry(first, arrival, _activeId, offset, count, length)));
                lock (_segmentsLock)
                {
                    _segments[_activeId].Note(req.StreamId, arrival);
                }
                _activeRecordBlocks++;
                _bufLen = pos;
            }
        }
        finally
        {
            ArrayPool<long>.Shared.Return(keys);
        }
    }

    private void EnsureCapacity(int extra)
    {
        if (_bufLen + extra <= _buf.Length)
        {
            return;
        }
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buf.Length * 2, _bufLen + extra));
        _buf.AsSpan(0, _bufLen).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buf);
        _buf = bigger;
    }

    /// <summary>Writes the batch buffer to the active segment and fsyncs it.</summary>
    private void FlushBuffer()
    {
        if (_bufLen == 0)
        {
            return;
        }
        _activeStream.Write(_buf, 0, _bufLen);
        _activeStream.Flush(flushToDisk: true);
        Interlocked.Increment(ref _fsyncCount);
        _activeLength += _bufLen;
        _bufLen = 0;
    }

    private void MaybeRoll(long nextBytes)
    {
        if (_activeRecordBlocks > 0 && _activeLength + _bufLen + nextBytes > _options.SegmentSizeBytes)
        {
            FlushBuffer();
            Roll();
        }
    }

    /// <summary>Seals the active segment (writes its .idx) and starts a new one with a snapshot of all shard states.
    /// Called between writes, with everything serialized so far already fsynced.</summary>
    private void Roll()
    {
        long oldId = _activeId;
        LogFormat.WriteIndexFile(IndexPath(oldId), oldId, _activeLength, _activeEntries);
        _activeStream.Dispose();
        long newId = oldId + 1;
        _activeStream = new FileStream(SegmentPath(newId), FileMode.CreateNew, FileAccess.Write,
            FileShare.ReadWrite | FileShare.Delete, 1);
        DirectorySync.Fsync(_logDir); // the new segment and the renamed .idx
        lock (_segmentsLock)
        {
            _segments[newId] = new SegmentInfo(newId);
            _activeId = newId;
        }
        _activeLength = 0;
        _activeRecordBlocks = 0;
        _activeEntries.Clear();
        WriteSegmentStart(newId);
    }

    /// <summary>Puts the segment header and the snapshot block (state of every shard) into the empty buffer.</summary>
    private void WriteSegmentStart(long segmentId)
    {
        _snapshotScratch.Clear();
        foreach (var st in _shards.Values)
        {
            if (!Volatile.Read(ref st.Dropped))
            {
                _snapshotScratch.Add(st);
            }
        }
        foreach (var st in _pendingOpens.Values)
        {
            _snapshotScratch.Add(st);
        }
        int blockLength = LogFormat.BlockHeaderSize + (_snapshotScratch.Count * LogFormat.SnapshotEntrySize);
        EnsureCapacity(LogFormat.SegmentHeaderSize + blockLength);
        LogFormat.WriteSegmentHeader(_buf.AsSpan(_bufLen), segmentId);
        _bufLen += LogFormat.SegmentHeaderSize;
        var block = _buf.AsSpan(_bufLen, blockLength);
        LogFormat.WriteBlockHeader(block, blockLength, BlockType.Snapshot, 0, 0, _snapshotScratch.Count, 0, 0);
        int pos = LogFormat.BlockHeaderSize;
        foreach (var st in _snapshotScratch)
        {
            LogFormat.WriteSnapshotEntry(block[pos..], new SnapshotEntry(st.Key.StreamId, st.Key.ShardIndex, st.WSealed,
                st.StartingPosition, st.WLastPosition, st.WLastArrivalMs));
            pos += LogFormat.SnapshotEntrySize;
        }
        LogFormat.SealBlock(block);
        _bufLen += blockLength;
        _snapshotScratch.Clear();
    }

    /// <summary>Makes the fsynced batch visible to readers and wakes waiters.</summary>
    private void Publish()
    {
        foreach (var pub in _pubs)
        {
            var st = pub.State;
            switch (pub.Type)
            {
                case BlockType.Records:
                    lock (st)
                    {
                        if (!st.Dropped)
                        {
                            st.Index.Add(pub.Entry);
                        }
                        st.LastPosition = pub.Entry.LastPosition;
                        st.LastArrivalMs = pub.Entry.ArrivalMs;
                    }
                    break;
                case BlockType.ShardOpened:
                    _shards.TryAdd(st.Key, st);
                    break;
                case BlockType.ShardSealed:
                    lock (st)
                    {
                        st.Sealed = true;
                    }
                    break;
            }
            st.Signal();
        }
    }

    // ------------------------------------------------------------------ retention

    private async Task RetentionLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.RetentionCheckInterval, _clock);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await RunRetentionAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Try again at the next tick.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Deletes every sealed segment whose blocks all belong to dropped/unknown streams or are older than their
    /// stream's retention period. Returns the number of segments deleted.</summary>
    internal async Task<int> RunRetentionAsync(CancellationToken cancellationToken = default)
    {
        await _retentionGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            var victims = new HashSet<long>();
            lock (_segmentsLock)
            {
                foreach (var seg in _segments.Values)
                {
                    if (seg.Id >= _activeId)
                    {
                        continue;
                    }
                    bool expired = true;
                    foreach (var (streamId, maxArrival) in seg.MaxArrivalByStream)
                    {
                        if (_catalog.TryGetRetentionHours(streamId, out int hours) && maxArrival >= now - (hours * 3_600_000L))
                        {
                            expired = false;
                            break;
                        }
                    }
                    if (expired)
                    {
                        victims.Add(seg.Id);
                    }
                }
                foreach (long id in victims)
                {
                    _segments.Remove(id);
                }
            }
            if (victims.Count > 0)
            {
                long maxVictim = victims.Max();
                foreach (var st in _shards.Values)
                {
                    lock (st)
                    {
                        st.Index.RemoveDeletedSegments(victims, maxVictim);
                    }
                }
                foreach (long id in victims)
                {
                    lock (_handlesLock)
                    {
                        if (_readHandles.Remove(id, out var handle))
                        {
                            handle.Dispose();
                        }
                    }
                    File.Delete(SegmentPath(id));
                    File.Delete(IndexPath(id));
                }
                DirectorySync.Fsync(_logDir);
            }

            // Dropped stream ids can be forgotten once no block of theirs is left on disk.
            var forget = new List<long>();
            lock (_segmentsLock)
            {
                foreach (long id in _catalog.DroppedStreamIds)
                {
                    // Kept while the stream is still listed: a snapshot block may still name its shards.
                    if (!_catalog.IsListed(id) && !_segments.Values.Any(s => s.MaxArrivalByStream.ContainsKey(id)))
                    {
                        forget.Add(id);
                    }
                }
            }
            await _catalog.ForgetDroppedAsync(forget, cancellationToken).ConfigureAwait(false);
            return victims.Count;
        }
        finally
        {
            _retentionGate.Release();
        }
    }

    internal IReadOnlyList<long> SegmentIds()
    {
        lock (_segmentsLock)
        {
            return [.. _segments.Keys];
        }
    }

    // ------------------------------------------------------------------ shutdown

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _queue.Writer.TryComplete();
        await _writerTask.ConfigureAwait(false); // drains and fsyncs everything queued
        _disposed = true;
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _retentionTask.ConfigureAwait(false);
        await _retentionGate.WaitAsync().ConfigureAwait(false);
        _activeStream.Dispose();
        lock (_handlesLock)
        {
            foreach (var h in _readHandles.Values)
            {
                h.Dispose();
            }
            _readHandles.Clear();
        }
        foreach (var st in _shards.Values)
        {
            st.Signal(); // waiters wake up and see ObjectDisposedException
        }
        ArrayPool<byte>.Shared.Return(_buf);
        _buf = [];
        foreach (var (cipher, _) in _writeCiphers.Values)
        {
            cipher.Dispose();
        }
        _writeCiphers.Clear();
        _stopping.Dispose();
    }
}
