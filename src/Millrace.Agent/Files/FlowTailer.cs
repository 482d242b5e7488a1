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

    private readonly List<SourceFile> _files = [];
    private readonly HashSet<FileIdentity> _seen = [];

    public TailerCounters Counters { get; } = new();

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

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

    /// <summary>Where reading starts: at the checkpoints (every checkpointed file with unread data, then files that
    /// appeared after them), else at the newest file's end (END_OF_FILE) or start (START_OF_FILE).</summary>
    private void Start()
    {
        var matches = FilePatterns.Match(flow.FilePattern);
        foreach (var m in matches)
        {
            _seen.Add(m.Id);
        }

        var saved = checkpoints.ForFlow(flow.Id);
        if (saved.Count == 0)
        {
            var newest = matches.FirstOrDefault(m => !Compressed(m.Path));
            if (newest is not null && SourceFile.Open(newest.Path, flow.StartAtBeginning ? 0 : newest.Size, flow.SkipHeaderLines, NowMs) is { } file)
            {
                if (!flow.StartAtBeginning && file.CurrentSize > 0)
                {
                    // END_OF_FILE: lines before the end are not this run's; header lines are behind too.
                    file.HeaderLinesLeft = 0;
                }

                _files.Add(file);
                Known(file);
            }

            return;
        }

        var resumed = new List<(SourceFile File, long ModifiedMs)>();
        long newestCheckpointed = 0;
        foreach (var c in saved)
        {
            // The checkpointed file by its content: itself (same inode, same start), else a copy of it (copytruncate's
            // copy, a compressed rotation). Its inode with other content was truncated or replaced: it is a new file.
            var same = matches.Where(m => (FileIdentity.SameStart(FingerprintOf(m), c.Fingerprint) && FingerprintOf(m).Length >= c.Fingerprint.Length)
                || (c.Fingerprint.Length == 0 && m.Id == new FileIdentity(c.Device, c.Inode))).ToList();
            var match = same.FirstOrDefault(m => m.Id == new FileIdentity(c.Device, c.Inode)) ?? same.FirstOrDefault();
            if (match is null || resumed.Any(r => r.File.Id == match.Id) || SourceFile.Open(match.Path, c.Offset, flow.SkipHeaderLines, NowMs) is not { } file)
            {
                continue;
            }

            if (match.Id != new FileIdentity(c.Device, c.Inode))
            {
                // The checkpointed content lives on in a copy: the copy gets its own row now, because the original
                // inode's row is about to describe the truncated file's new content.
                checkpoints.Save(c with { Path = match.Path, Device = match.Id.Device, Inode = match.Id.Inode, UpdatedMs = NowMs });
            }

            newestCheckpointed = Math.Max(newestCheckpointed, match.ModifiedMs);
            resumed.Add((file, match.ModifiedMs));
        }

        if (resumed.Count == 0)
        {
            // None of the checkpointed files is left: files changed since the last checkpoint (less a margin) are new.
            newestCheckpointed = saved.Max(c => c.UpdatedMs) - 5_000;
        }

        // Files that appeared after the newest checkpointed one (rotations while the agent was down) are read whole.
        foreach (var m in matches.Where(m => m.ModifiedMs >= newestCheckpointed && !Compressed(m.Path)).OrderBy(m => m.ModifiedMs))
        {
            if (resumed.Any(r => r.File.Id == m.Id) || resumed.Any(r => FileIdentity.SameStart(FingerprintOf(m), r.File.Fingerprint)))
            {
                continue;
            }

            if (SourceFile.Open(m.Path, 0, flow.SkipHeaderLines, NowMs) is { } file)
            {
                resumed.Add((file, m.ModifiedMs));
                Known(file);
            }
        }

        _files.AddRange(resumed.OrderBy(r => r.ModifiedMs).Select(r => r.File));
        foreach (var f in _files)
        {
            Log($"resuming {f.Path} (inode {f.Id.Inode}) at byte {f.Offset}");
        }
    }

    /// <summary>
    /// Checkpoints a file the moment reading it starts: if the agent dies before any of its records is acknowledged
    /// and the file is then rotated, the next start still finds it (by inode while it is too young for a fingerprint).
    /// </summary>
    private void Known(SourceFile file)
    {
        checkpoints.Save(new FileCheckpoint(flow.Id, file.Path, file.Id.Device, file.Id.Inode, file.Fingerprint, file.Offset, NowMs));
        Log($"following {file.Path} (inode {file.Id.Inode}) from byte {file.Offset}");
    }

    private void Log(string message) => log?.Invoke($"{flow.Id}: {message}");

    /// <summary>One look at the pattern: new files, truncations and in-place replacements of the followed ones.</summary>
    private void Track()
    {
        var matches = FilePatterns.Match(flow.FilePattern);
        if (_files.Count > 0)
        {
            CheckCurrent(_files[^1], matches);
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

            if (SourceFile.Open(m.Path, 0, flow.SkipHeaderLines, NowMs) is { } file)
            {
                Counters.Rotations++;
                _files.Add(file);
                Known(file);
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

    private void CheckCurrent(SourceFile current, IReadOnlyList<FileMatch> matches)
    {
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

        // Truncated (copytruncate, `> file`) or rewritten in place: what was not read yet may survive in a copy.
        // logrotate may be compressing the copy right now (the plain copy is deleted once its .gz is whole): look again.
        SourceFile? rest = null;
        FileMatch? copy = null;
        for (var attempt = 0; attempt < 5 && rest is null; attempt++)
        {
            if (attempt > 0)
            {
                Thread.Sleep(50);
                matches = FilePatterns.Match(flow.FilePattern);
            }

            copy = matches.FirstOrDefault(m => m.Id != current.Id && FileIdentity.SameStart(FingerprintOf(m), current.Fingerprint)
                && FingerprintOf(m).Length >= Math.Min(current.Fingerprint.Length, FileIdentity.FingerprintBytes));
            rest = copy is null ? null : SourceFile.Open(copy.Path, current.Offset, 0, NowMs);
        }

        if (copy is not null && rest is not null)
        {
            rest.RefreshFingerprint(current.Fingerprint);
            _seen.Add(copy.Id);

            // As at start: the copy carries the old content's checkpoint from now on, in its own row.
            checkpoints.Save(new FileCheckpoint(flow.Id, rest.Path, rest.Id.Device, rest.Id.Inode, current.Fingerprint, current.Offset, NowMs));
            _files.Insert(_files.Count - 1, rest);
            Counters.TruncationsWithCopy++;
            Log($"{current.Path} was truncated; the rest of it is read from its copy {copy.Path} from byte {current.Offset}");
        }
        else
        {
            Counters.TruncationsWithoutCopy++;
            Log($"{current.Path} was truncated and no copy of its unread part was found; reading it again from its start");
        }

        current.Restart(flow.SkipHeaderLines);
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
                if (start.Length > 0)
                {
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
