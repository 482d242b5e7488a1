using System.Threading.Channels;
using Millrace.Agent.Checkpoints;
using Millrace.Agent.Files;

namespace Millrace.Agent.Sending;

/// <summary>Counters a flow's sender reports (the AWS agent's sender metrics).</summary>
internal sealed class SenderCounters
{
    public long RecordsSent;
    public long BytesSent;
    public long RecordSendAttempts;
    public long RecordSendErrors;
    public long ServiceErrors;
}

/// <summary>
/// Takes a flow's records from the tailer's channel, buffers them up to maxBufferSizeRecords, maxBufferSizeBytes or
/// maxBufferAgeMillis, sends a buffer at a time, sends failed records again with backoff (no attempt limit, as the
/// AWS agent), and only then moves each file's checkpoint past the buffer's last record: at least once, in order.
/// </summary>
internal sealed class FlowSender(FlowConfiguration flow, IRecordDestination destination, CheckpointWriter checkpoints, ChannelReader<TailedRecord> input,
    TimeProvider clock, Action<string> log)
{
    public SenderCounters Counters { get; } = new();

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Runs until the channel completes (shutdown: the tailer stopped) and everything read is sent, or <paramref name="abort"/>.</summary>
    public async Task RunAsync(CancellationToken abort)
    {
        var buffer = new List<TailedRecord>(flow.MaxBufferSizeRecords);
        long bytes = 0, oldest = 0;

        // With KPL aggregation many lines share a Kinesis record, so the buffer is bounded by bytes, not by 500 lines.
        var maxRecords = flow.KplAggregation ? int.MaxValue : flow.MaxBufferSizeRecords;
        try
        {
            while (true)
            {
                var wait = buffer.Count == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(0, oldest + flow.MaxBufferAgeMillis - NowMs));
                bool more;
                using (var timer = new CancellationTokenSource(wait, clock))
                using (var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, abort))
                {
                    try
                    {
                        more = await input.WaitToReadAsync(linked.Token);
                    }
                    catch (OperationCanceledException) when (!abort.IsCancellationRequested)
                    {
                        more = true; // the buffer's age is up
                    }
                }

                while (buffer.Count < maxRecords && input.TryRead(out var record))
                {
                    if (buffer.Count > 0 && bytes + record.Data.Length > flow.MaxBufferSizeBytes)
                    {
                        await SendAsync(buffer, abort);
                        bytes = 0;
                    }

                    if (buffer.Count == 0)
                    {
                        oldest = NowMs;
                    }

                    buffer.Add(record);
                    bytes += record.Data.Length;
                }

                var full = buffer.Count >= maxRecords || bytes >= flow.MaxBufferSizeBytes;
                if (buffer.Count > 0 && (full || !more || NowMs - oldest >= flow.MaxBufferAgeMillis))
                {
                    await SendAsync(buffer, abort);
                    bytes = 0;
                }

                if (!more && buffer.Count == 0)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends one buffer until every record is acknowledged, then checkpoints and clears it.</summary>
    private async Task SendAsync(List<TailedRecord> buffer, CancellationToken abort)
    {
        var pending = buffer.Select((r, i) => i).ToList();
        var failures = 0;
        while (pending.Count > 0)
        {
            abort.ThrowIfCancellationRequested();
            Interlocked.Add(ref Counters.RecordSendAttempts, pending.Count);
            try
            {
                var failed = await destination.SendAsync(pending.Select(i => buffer[i].Data).ToList(), abort);
                var next = failed.Select(i => pending[i]).ToList();
                Interlocked.Add(ref Counters.RecordSendErrors, next.Count);
                pending = next;
                failures = next.Count == 0 ? 0 : failures + 1;
            }
            catch (Exception e) when (e is not OperationCanceledException || !abort.IsCancellationRequested)
            {
                Interlocked.Increment(ref Counters.ServiceErrors);
                failures++;
                if (failures == 1 || failures % 20 == 0)
                {
                    log($"{destination.Name}: sending {pending.Count} records failed ({failures} times in a row), retrying: {e.Message}");
                }
            }

            if (pending.Count > 0)
            {
                await Task.Delay(Backoff(failures), clock, abort);
            }
        }

        Interlocked.Add(ref Counters.RecordsSent, buffer.Count);
        Interlocked.Add(ref Counters.BytesSent, buffer.Sum(r => (long)r.Data.Length));

        // Records of one content arrive in order (a copy's after its original's), so the last one is its checkpoint.
        foreach (var last in buffer.GroupBy(r => r.Source.Content).Select(g => g.Last()))
        {
            checkpoints.Advance(flow.Id, last.Source, last.EndOffset);
        }

        buffer.Clear();
    }

    /// <summary>The AWS agent's throttler: initial × 2^(failures−1), at most the maximum, ±20 % jitter.</summary>
    private TimeSpan Backoff(int failures)
    {
        var delay = Math.Min(flow.RetryMaxBackoffMillis, flow.RetryInitialBackoffMillis * Math.Pow(2, Math.Min(30, Math.Max(0, failures - 1))));
        return TimeSpan.FromMilliseconds(delay * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }
}

/// <summary>
/// Checkpoints move in memory after each acknowledgement and reach SQLite (fsynced) every 200 ms and at shutdown:
/// a crash may repeat what was sent in the last moments, never skip it.
/// </summary>
internal sealed class CheckpointWriter(CheckpointStore store, TimeProvider clock)
{
    private readonly Dictionary<(string Flow, long Content), FileCheckpoint> _dirty = [];
    private readonly Lock _lock = new();

    public void Advance(string flow, SourceFile file, long offset)
    {
        lock (_lock)
        {
            _dirty[(flow, file.Content)] = new FileCheckpoint(flow, file.Content, file.Path, file.Id.Device, file.Id.Inode, file.Fingerprint, offset, clock.GetUtcNow().ToUnixTimeMilliseconds());
        }
    }

    public void Flush()
    {
        List<FileCheckpoint> rows;
        lock (_lock)
        {
            rows = [.. _dirty.Values];
            _dirty.Clear();
        }

        store.SaveAll(rows);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), clock, ct);
                Flush();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Flush();
        }
    }
}
