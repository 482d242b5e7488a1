namespace Millrace.Firehose.Http;

/// <summary>Delivers one batch to an HTTP endpoint with Firehose's retry policy.</summary>
public static class HttpEndpointDelivery
{
    /// <summary>The model's default <c>RetryOptions.DurationInSeconds</c> for HTTP endpoints.</summary>
    public const int DefaultRetryDurationInSeconds = 300;

    public const int MaxRetryDurationInSeconds = 7200;

    private static readonly TimeSpan s_initialBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_maxBackoff = TimeSpan.FromMinutes(2);
    private const double Jitter = 0.15;

    // A safety net beside the deadline (a clock that never advances would otherwise loop forever): 7200 s of
    // retries at the 120 s cap is under 70 attempts.
    private const int MaxAttempts = 1000;

    /// <summary>
    /// Sends the batch, retrying every retryable failure with the same request id: backoff 1 s, doubling, ±15%
    /// jitter, at most 2 minutes, never sleeping past the retry deadline. As AWS documents for HTTP endpoints, the
    /// retry duration starts when the first attempt has failed, and an attempt in flight at the deadline is still
    /// waited for. A 413 ends the delivery at once. Returns the last attempt's outcome with the attempts made.
    /// </summary>
    public static async Task<HttpDeliveryOutcome> DeliverWithRetriesAsync(
        HttpEndpointClient client,
        HttpEndpointTarget target,
        IReadOnlyList<ReadOnlyMemory<byte>> records,
        int retryDurationInSeconds,
        TimeProvider clock,
        CancellationToken cancellationToken,
        TimeSpan? responseTimeout = null,
        Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegative(retryDurationInSeconds);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(retryDurationInSeconds, MaxRetryDurationInSeconds);
        random ??= Random.Shared;
        var timeout = responseTimeout ?? HttpEndpointClient.DefaultResponseTimeout;
        var requestId = Guid.NewGuid().ToString();
        DateTimeOffset? deadline = null;
        for (var attempt = 1; ; attempt++)
        {
            var outcome = await client.SendAsync(target, requestId, records, timeout, cancellationToken);
            var now = clock.GetUtcNow();
            outcome = outcome with { AttemptsMade = attempt, AttemptEndingTimestamp = now };
            if (outcome.Status != HttpDeliveryStatus.RetryableFailure || attempt >= MaxAttempts)
            {
                return outcome;
            }

            deadline ??= now + TimeSpan.FromSeconds(retryDurationInSeconds);
            var remaining = deadline.Value - now;
            if (remaining <= TimeSpan.Zero)
            {
                return outcome;
            }

            var delay = Backoff(attempt - 1, random);
            await Task.Delay(delay < remaining ? delay : remaining, clock, cancellationToken);
        }
    }

    /// <summary>The sleep before retry <paramref name="retry"/> (0-based): min(120 s, 1 s × 2^retry) × U(0.85, 1.15).</summary>
    public static TimeSpan Backoff(int retry, Random random)
    {
        var seconds = Math.Min(s_maxBackoff.TotalSeconds, s_initialBackoff.TotalSeconds * Math.Pow(2, Math.Min(retry, 30)));
        var factor = 1 - Jitter + (random.NextDouble() * 2 * Jitter);
        return TimeSpan.FromSeconds(seconds * factor);
    }
}
