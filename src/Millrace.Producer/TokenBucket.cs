using System.Diagnostics;

namespace Millrace.Producer;

/// <summary>
/// The KPL's per-shard limiter (<c>limiter.h</c>): two token streams, records (capacity 1000, refill
/// 1000/s × RateLimit/100) and bytes (capacity 10 MiB, refill 1 MiB/s × RateLimit/100). Not thread-safe: used
/// under its stream's lock.
/// </summary>
internal sealed class TokenBucket(long rateLimitPercent)
{
    private const double RecordCapacity = 1000;
    private const double ByteCapacity = 10 * 1024 * 1024;
    private readonly double _recordsPerSecond = 1000.0 * rateLimitPercent / 100;
    private readonly double _bytesPerSecond = 1024.0 * 1024 * rateLimitPercent / 100;
    private double _records = RecordCapacity;
    private double _bytes = ByteCapacity;
    private long _last = Stopwatch.GetTimestamp();

    /// <summary>Takes one Kinesis record of this size if both streams have the tokens.</summary>
    public bool TryTake(long bytes, long now)
    {
        Refill(now);
        if (_records < 1 || (_bytes < bytes && _bytes < ByteCapacity))
        {
            return false;
        }

        _records -= 1;
        _bytes -= bytes;
        return true;
    }

    private void Refill(long now)
    {
        double seconds = (double)(now - _last) / Stopwatch.Frequency;
        if (seconds <= 0)
        {
            return;
        }

        _last = now;
        _records = Math.Min(RecordCapacity, _records + (seconds * _recordsPerSecond));
        _bytes = Math.Min(ByteCapacity, _bytes + (seconds * _bytesPerSecond));
    }
}
