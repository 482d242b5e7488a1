namespace Millrace.Kinesis.Limits;

/// <summary>
/// A token bucket that holds one second of its rate and refills continuously. Kept in thousandths of a token so
/// refills per elapsed millisecond are exact integers. Not thread-safe: the owner locks around it. A take may
/// leave the bucket in debt (a large read or a record bigger than the bucket), which later refills pay off.
/// </summary>
internal struct TokenBucket
{
    // Long idle periods would only refill a full bucket; capping elapsed time keeps the product far from overflow.
    private const long MaxRefillMs = 3_600_000;

    private readonly long _ratePerSecond;
    private long _milliTokens;
    private long _lastMs;

    public TokenBucket(long ratePerSecond, long nowMs)
    {
        _ratePerSecond = Math.Max(1, ratePerSecond);
        _milliTokens = Capacity;
        _lastMs = nowMs;
    }

    private readonly long Capacity => _ratePerSecond * 1000;

    public void Refill(long nowMs)
    {
        if (nowMs > _lastMs)
        {
            long elapsed = Math.Min(nowMs - _lastMs, MaxRefillMs);
            _milliTokens = Math.Min(Capacity, _milliTokens + (elapsed * _ratePerSecond));
            _lastMs = nowMs;
        }
    }

    /// <summary>Whether <paramref name="tokens"/> fit; a full bucket admits any single take (one oversized item
    /// goes through and leaves debt, as AWS lets large records burst).</summary>
    public readonly bool CanTake(long tokens) => _milliTokens >= Math.Min(tokens, _ratePerSecond) * 1000;

    public void Take(long tokens) => _milliTokens -= tokens * 1000;

    /// <summary>True unless a previous take left the bucket empty or in debt.</summary>
    public readonly bool HasCredit => _milliTokens > 0;
}
