using System.Text;
using System.Threading.Channels;
using Millrace.Agent.Checkpoints;

namespace Millrace.Agent.Files;

/// <summary>A record on its way: its data (converted), and where its file stands once it is acknowledged.</summary>
internal sealed record TailedRecord(SourceFile Source, long EndOffset, byte[] Data);

/// <summary>Counters a flow reports (the AWS agent's FileTailer metrics).</summary>
internal sealed class TailerCounters
{
    public long RecordsParsed;
    public long RecordsTruncated;
    public long RecordsFiltered;
    public long BytesConsumed;
    public long Rotations;
    public long TruncationsWithCopy;
    public long TruncationsWithoutCopy;
}

/// <summary>
/// Follows one flow's files: lists the pattern's matches each poll, tells rotations apart by identity and fingerprint,
/// reads every file it follows to its end (rotated ones first), turns bytes into records (lines, multi-line records,
/// header and footer rules, size limit, converters) and hands them to a bounded channel: when the sender falls
/// behind, reading waits, so memory stays bounded.
/// </summary>
internal sealed class FlowTailer(FlowConfiguration flow, CheckpointStore checkpoints, ChannelWriter<TailedRecord> output, TimeProvider clock, Action<string>? log = null)
{
    /// <summary>How long a rotated file must stay unchanged at its end before it is closed (late writes still count).</summary>
    private const int RotatedQuietMillis = 2_000;

    /// <summary>How long a truncated file waits for the copy of its unread part (logrotate copies, truncates, then compresses).</summary>
    private const int CopyWaitMillis = 10_000;

    private long? _copySearchSinceMs;

    private readonly List<SourceFile> _files = [];
    private readonly HashSet<FileIdentity> _seen = [];

    public TailerCounters Counters { get; } = new();

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private bool _started;

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            Start();
            while (!ct.IsCancellationRequested)
            {
                Track();
                var progressed = await ReadAllAsync(ct);
                if (!progressed)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(flow.MinTimeBetweenFilePollsMillis), clock, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ChannelClosedException)
        {
        }
    }

    /// <summary>The files followed now, oldest first (for tests and status).</summary>
    public IReadOnlyList<SourceFile> Files => _files;

    // ---- which files ----

    /// <summary>
    /// Where reading starts. The first time the flow starts: at the newest file's end (END_OF_FILE) or start
    /// (START_OF_FILE); the other files are history. Every later start: each file on disk is matched with the checkpoint
    /// of its content and read on from there; a file that no checkpoint describes appeared while the agent was down (a
    /// rotation, a new file) and is read whole. Checkpoints of contents no file holds any more are dropped.
    /// </summary>
    public void Start()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        var matches = FilePatterns.Match(flow.FilePattern);
        var prints = matches.ToDictionary(m => m.Path, FingerprintOf);
        if (!checkpoints.MarkStarted(flow.Id, NowMs))
        {
            FirstStart(matches, prints);
            return;
        }

        var saved = checkpoints.ForFlow(flow.Id);
        var rowsOf = new Dictionary<string, List<FileCheckpoint>>();
        var claimed = new HashSet<long>();

        // First the file at the row's inode that still starts as the row's content did (kept, renamed, grown); then, for
        // a full fingerprint, the file anywhere that starts with exactly it (copytruncate's copy, a compressed rotation:
        // a plain file before its .gz, which logrotate may still be writing).
        foreach (var c in saved.OrderByDescending(c => c.Fingerprint.Length))
        {
            var home = new FileIdentity(c.Device, c.Inode);
            var file = matches.FirstOrDefault(m => m.Id == home && Continues(prints[m.Path], c.Fingerprint));
            if (file is null && c.Fingerprint.Length == FileIdentity.FingerprintBytes)
            {
                file = matches.Where(m => prints[m.Path].AsSpan().SequenceEqual(c.Fingerprint) && !rowsOf.ContainsKey(m.Path))
                    .OrderBy(m => Compressed(m.Path)).ThenByDescending(m => m.Size).FirstOrDefault()
                    ?? matches.FirstOrDefault(m => prints[m.Path].AsSpan().SequenceEqual(c.Fingerprint));
            }

            if (file is not null)
            {
                (rowsOf.TryGetValue(file.Path, out var list) ? list : rowsOf[file.Path] = []).Add(c);
                claimed.Add(c.Content);
            }
        }

        var resumed = new List<(SourceFile File, FileMatch Match)>();
        var rows = new List<FileCheckpoint>();
        foreach (var (path, candidates) in rowsOf)
        {
            // Several rows for one file: the most specific (longest fingerprint), then the furthest.
            var m = matches.First(x => x.Path == path);
            var best = candidates.OrderByDescending(c => c.Fingerprint.Length).ThenByDescending(c => c.Offset).First();
            claimed.ExceptWith(candidates.Where(c => c != best).Select(c => c.Content));
            var replaced = !Compressed(m.Path) && m.Size < best.Offset;
            var touched = best with { Path = m.Path, Device = m.Id.Device, Inode = m.Id.Inode, Fingerprint = Longer(prints[m.Path], best.Fingerprint), UpdatedMs = NowMs };
            if (Compressed(m.Path) && best.Offset == long.MaxValue)
            {
                // An archive that was history at the first start: nothing to read, nothing to decompress.
                _seen.Add(m.Id);
                rows.Add(touched);
                continue;
            }

            if (SourceFile.Open(m.Path, replaced ? SourceFile.NewContent() : best.Content, replaced ? 0 : best.Offset, flow.SkipHeaderLines, NowMs) is not { } file)
            {
                continue;
            }

            _seen.Add(m.Id);
            if (replaced)
            {
                // Shorter than its checkpoint: truncated and refilled with the same first bytes. Read it again.
                claimed.Remove(best.Content);
            }
            else
            {
                // Where the content is now, so that the next start finds it by inode (and the row does not expire).
                rows.Add(touched);
            }

            resumed.Add((file, m));
        }

        foreach (var m in matches.Where(m => !rowsOf.ContainsKey(m.Path)))
        {
            // A copy of a content followed (the same full fingerprint) is not new data; an empty file waits for content.
            var print = prints[m.Path];
            if (print.Length == 0 || (print.Length == FileIdentity.FingerprintBytes && resumed.Any(r => prints[r.Match.Path].AsSpan().SequenceEqual(print))))
            {
                continue;
            }

            if (SourceFile.Open(m.Path, SourceFile.NewContent(), 0, flow.SkipHeaderLines, NowMs) is { } file)
            {
                _seen.Add(m.Id);
                resumed.Add((file, m));
            }
        }

        checkpoints.SaveAll(rows);
        checkpoints.Delete(flow.Id, saved.Select(c => c.Content).Where(c => !claimed.Contains(c)));

        // Oldest first; the file being written (the newest uncompressed one) last.
        _files.AddRange(resumed.OrderBy(r => !Compressed(r.Match.Path)).ThenBy(r => r.Match.ModifiedMs).Select(r => r.File));
        foreach (var f in _files)
        {
            Log($"resuming {f.Path} (inode {f.Id.Inode}) at byte {f.Offset}");
        }
    }

    /// <summary>The first start: the newest file is followed; every other file is history, checkpointed at its end.</summary>
    private void FirstStart(IReadOnlyList<FileMatch> matches, Dictionary<string, byte[]> prints)
    {
        var newest = matches.FirstOrDefault(m => !Compressed(m.Path));
        var rows = new List<FileCheckpoint>();
        foreach (var m in matches.Where(m => m.Size > 0))
        {
            _seen.Add(m.Id);
            var start = m == newest ? (flow.StartAtBeginning ? 0 : m.Size) : Compressed(m.Path) ? long.MaxValue : m.Size;
            rows.Add(new FileCheckpoint(flow.Id, SourceFile.NewContent(), m.Path, m.Id.Device, m.Id.Inode, prints[m.Path], start, NowMs));
        }

        if (newest is not null)
        {
            var row = rows.Find(r => r.Path == newest.Path);
            if (SourceFile.Open(newest.Path, row?.Content ?? SourceFile.NewContent(), row?.Offset ?? 0, flow.SkipHeaderLines, NowMs) is { } file)
            {
                if (file.Offset > 0)
                {
                    // END_OF_FILE: lines before the end are not this run's; header lines are behind too.
                    file.HeaderLinesLeft = 0;
                }

                _files.Add(file);
                Log($"following {file.Path} (inode {file.Id.Inode}) from byte {file.Offset}");
            }
        }

        checkpoints.SaveAll(rows);
    }

    /// <summary>True when a file starting with <paramref name="file"/> holds the content that started with <paramref name="row"/>.</summary>
    private static bool Continues(ReadOnlySpan<byte> file, ReadOnlySpan<byte> row) => file.Length >= row.Length && file[..row.Length].SequenceEqual(row);

    private static byte[] Longer(byte[] a, byte[] b) => a.Length >= b.Length ? a : b;

    private void Log(string message) => log?.Invoke($"{flow.Id}: {message}");

    /// <summary>One look at the pattern: new files, truncations and in-place replacements of the followed ones.</summary>
    private void Track()
    {
        var matches = FilePatterns.Match(flow.FilePattern);
        if (_files.Count > 0)
        {
            CheckCurrent(matches);
        }

        if (matches.Count > 0)
        {
            // A file gone from the listing is forgotten: its inode may come back as a new file.
            var listed = matches.Select(m => m.Id).ToHashSet();
            _seen.IntersectWith(listed);
            foreach (var gone in _gzipStarts.Keys.Where(id => !listed.Contains(id)).ToList())
            {
                _gzipStarts.Remove(gone);
            }
        }

        foreach (var m in matches.Where(m => !_seen.Contains(m.Id)).OrderBy(m => m.ModifiedMs))
        {
            // An empty file tells nothing yet (logrotate creates a copy or a new file empty, then fills it): look again
            // next poll. A compressed file is only ever a rotated copy (logrotate compress), never new lines.
            if (m.Size == 0 && !Compressed(m.Path))
            {
                continue;
            }

            _seen.Add(m.Id);
            if (_files.Any(f => f.Id == m.Id) || Compressed(m.Path))
            {
                continue;
            }

            // A copy of a followed file (copytruncate's copy, a compressed rotation) is not new data.
            var start = FingerprintOf(m);
            if (start.Length > 0 && _files.Any(f => FileIdentity.SameStart(f.Fingerprint, start)))
            {
                continue;
            }

            if (SourceFile.Open(m.Path, SourceFile.NewContent(), 0, flow.SkipHeaderLines, NowMs) is { } file)
            {
                Counters.Rotations++;
                _files.Add(file);
                Log($"following {file.Path} (inode {file.Id.Inode}) from byte 0");
            }
        }

        // Rotated files read to their end and quiet for a while are done. Records hold copies of their bytes and the
        // checkpoint needs only the file's identity, so closing does not wait for the sender.
        for (var i = 0; i < _files.Count - 1; i++)
        {
            var f = _files[i];
            if ((f.Ended || (f.PendingLength == 0 && f.AtEndOfData)) && NowMs - f.LastGrowthMs > RotatedQuietMillis)
            {
                _files.RemoveAt(i--);
                f.Dispose();
            }
        }
    }

    private void CheckCurrent(IReadOnlyList<FileMatch> matches)
    {
        var current = _files[^1];
        if (current.Compressed)
        {
            return;
        }

        var size = current.CurrentSize;
        var known = current.Offset + current.PendingLength;
        var now = current.ReadFingerprintNow();
        var replaced = size < known || (now.Length > 0 && !FileIdentity.SameStart(now, current.Fingerprint)) || (now.Length == 0 && known > 0);
        if (!replaced)
        {
            current.RefreshFingerprint(now);
            return;
        }

        // Truncated (copytruncate, `> file`) or rewritten in place: what was not read yet may survive in a copy. The
        // copy may not be there yet or be a .gz still being written: the file is not read on until the copy is found or
        // CopyWaitMillis passed, so the old content's tail still comes before the new content.
        var copy = matches.Where(m => m.Id != current.Id && FileIdentity.SameStart(FingerprintOf(m), current.Fingerprint)
                && FingerprintOf(m).Length >= Math.Min(current.Fingerprint.Length, FileIdentity.FingerprintBytes))
            .OrderBy(m => Compressed(m.Path)).FirstOrDefault();
        var rest = copy is null ? null : SourceFile.Open(copy.Path, current.Content, current.Offset, 0, NowMs);
        if (rest is null && NowMs - (_copySearchSinceMs ??= NowMs) < CopyWaitMillis)
        {
            return;
        }

        _copySearchSinceMs = null;
        if (copy is not null && rest is not null)
        {
            rest.RefreshFingerprint(current.Fingerprint);
            _seen.Add(copy.Id);

            // The copy is the same content (its records advance the same checkpoint row, which moves to the copy's inode).
            _files.Insert(_files.Count - 1, rest);
            Counters.TruncationsWithCopy++;
            Log($"{current.Path} was truncated; the rest of it is read from its copy {copy.Path} from byte {current.Offset}");
        }
        else
        {
            Counters.TruncationsWithoutCopy++;
            Log($"{current.Path} was truncated and no copy of its unread part was found; reading it again from its start");
        }

        // The file itself holds new content now; records of the old content still on their way keep the old object.
        _files[^1] = current.Reopen(flow.SkipHeaderLines, NowMs);
    }

    private readonly Dictionary<FileIdentity, byte[]> _gzipStarts = [];

    /// <summary>Rotated-and-compressed names (logrotate's compress): read only as copies of a followed file, by fingerprint.</summary>
    private static bool Compressed(string path) =>
        path.EndsWith(".gz", StringComparison.Ordinal) || path.EndsWith(".bz2", StringComparison.Ordinal)
        || path.EndsWith(".xz", StringComparison.Ordinal) || path.EndsWith(".zst", StringComparison.Ordinal);

    /// <summary>A match's first bytes: decompressed for a gzip file (cached, as compressed files do not change).</summary>
    private byte[] FingerprintOf(FileMatch m)
    {
        if (m.Path.EndsWith(".gz", StringComparison.Ordinal))
        {
            if (!_gzipStarts.TryGetValue(m.Id, out var start))
            {
                start = SourceFile.GzipFingerprint(m.Path) ?? [];
                if (start.Length == FileIdentity.FingerprintBytes)
                {
                    // Only a whole fingerprint: a shorter one may be a .gz still being written.
                    _gzipStarts[m.Id] = start;
                }
            }

            return start;
        }

        try
        {
            using var handle = File.OpenHandle(m.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return FileIdentity.Fingerprint(handle, FileIdentity.SizeOf(handle));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    // ---- records ----

    /// <summary>Reads every followed file (oldest first) as far as it goes; true if anything was read.</summary>
    private async Task<bool> ReadAllAsync(CancellationToken ct)
    {
        var progressed = false;
        foreach (var f in _files.ToList())
        {
            if (f.Ended)
            {
                continue;
            }

            var rotated = !ReferenceEquals(f, _files[^1]);
            while (!ct.IsCancellationRequested)
            {
                var n = f.ReadMore();
                if (n > 0 && !rotated && f.Replaced())
                {
                    // Truncated (and maybe refilled) under this read: those bytes are not the file read so far.
                    // The next look at the pattern finds the copy of the rest and reads the new content from 0.
                    f.Unread(n);
                    break;
                }

                f.AtEndOfData = n == 0;
                if (n > 0)
                {
                    f.LastGrowthMs = NowMs;
                    Counters.BytesConsumed += n;
                    progressed = true;
                }

                // A rotated file's partial last line is a record once it has waited maxBufferAgeMillis; so is the
                // last multi-line record of any file (complete lines waiting for a next start line that may not come).
                var idle = n == 0 && NowMs - f.LastGrowthMs >= flow.MaxBufferAgeMillis;
                var flushPartial = idle && (rotated || (flow.MultiLineStartPattern is not null && f.PendingLength > 0 && f.Pending[^1] == (byte)'\n'));
                await ParseAsync(f, flushPartial, ct);
                if (n == 0 || f.Ended)
                {
                    break;
                }
            }
        }

        return progressed;
    }

    private async Task ParseAsync(SourceFile f, bool flushPartial, CancellationToken ct)
    {
        var recordStart = 0;
        var scan = f.Scanned;
        while (!f.Ended)
        {
            var nl = f.Pending[scan..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                break;
            }

            var lineStart = scan;
            var lineEnd = scan + nl + 1;
            scan = lineEnd;
            if (f.SkippingToNewline)
            {
                f.SkippingToNewline = false;
                recordStart = lineEnd;
                continue;
            }

            if (f.HeaderLinesLeft > 0)
            {
                f.HeaderLinesLeft--;
                recordStart = lineEnd;
                continue;
            }

            if (flow.FileFooterPattern is { } footer && footer.IsMatch(Line(f.Pending[lineStart..lineEnd])))
            {
                await EmitAsync(f, recordStart, lineStart, ct);
                f.Ended = true;
                recordStart = lineEnd;
                break;
            }

            if (flow.MultiLineStartPattern is { } multi)
            {
                // A record runs from a start line up to the next start line.
                if (multi.IsMatch(Line(f.Pending[lineStart..lineEnd])) && lineStart > recordStart)
                {
                    await EmitAsync(f, recordStart, lineStart, ct);
                    recordStart = lineStart;
                }

                continue;
            }

            await EmitAsync(f, recordStart, lineEnd, ct);
            recordStart = lineEnd;
        }

        if (flushPartial && !f.Ended && f.PendingLength > recordStart)
        {
            await EmitAsync(f, recordStart, f.PendingLength, ct);
            recordStart = f.PendingLength;
            scan = f.PendingLength;
        }
        else if (f.PendingLength - recordStart > flow.MaxRecordBytes)
        {
            // A line longer than a record can be: send its first part, drop the rest of it.
            await EmitAsync(f, recordStart, f.PendingLength, ct);
            recordStart = f.PendingLength;
            scan = f.PendingLength;
            f.SkippingToNewline = flow.MultiLineStartPattern is null;
        }

        f.Scanned = scan;
        f.Consume(recordStart);
        if (f.Ended)
        {
            f.Consume(f.PendingLength);
        }
    }

    private static string Line(ReadOnlySpan<byte> line)
    {
        var end = line.Length;
        while (end > 0 && line[end - 1] is (byte)'\n' or (byte)'\r')
        {
            end--;
        }

        return Encoding.UTF8.GetString(line[..end]);
    }

    private async Task EmitAsync(SourceFile f, int start, int end, CancellationToken ct)
    {
        if (end <= start)
        {
            return;
        }

        Counters.RecordsParsed++;
        var endOffset = f.Offset + end;
        byte[]? data = f.Pending[start..end].ToArray();
        foreach (var converter in flow.Converters)
        {
            data = converter.Convert(data);
            if (data is null)
            {
                Counters.RecordsFiltered++;
                return;
            }
        }

        if (data.Length > flow.MaxRecordBytes)
        {
            Counters.RecordsTruncated++;
            var cut = new byte[flow.MaxRecordBytes];
            data.AsSpan(0, flow.MaxRecordBytes - flow.TruncatedRecordTerminator.Length).CopyTo(cut);
            flow.TruncatedRecordTerminator.CopyTo(cut.AsSpan(flow.MaxRecordBytes - flow.TruncatedRecordTerminator.Length));
            data = cut;
        }

        await output.WriteAsync(new TailedRecord(f, endOffset, data), ct);
    }
}
