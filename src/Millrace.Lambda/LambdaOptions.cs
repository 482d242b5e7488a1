namespace Millrace.Lambda;

/// <summary>How Lambda runs here: account, region, where code is unpacked, how many environments may run at once.</summary>
public sealed class LambdaOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Where code archives are unpacked (one directory per CodeSha256) and bootstraps written.</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>Execution environments that may run at once, over all functions (<c>--lambda-concurrency</c>).</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>An environment idle this long is stopped.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The endpoint functions' SDKs are pointed at (AWS_ENDPOINT_URL), e.g. http://127.0.0.1:4567.</summary>
    public string? ServiceEndpoint { get; set; }

    /// <summary>The waits before the two retries of a failed asynchronous invocation (AWS: about 1 and 2 minutes).</summary>
    public IReadOnlyList<TimeSpan> AsyncRetryDelays { get; init; } = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2)];
}

/// <summary>Where function logs go: the host connects it to CloudWatch Logs, in process.</summary>
public interface IFunctionLogSink
{
    /// <summary>Appends events (timestamp in epoch milliseconds, message) to a stream of a group, creating both if needed.</summary>
    ValueTask WriteAsync(string group, string stream, IReadOnlyList<(long Timestamp, string Message)> events, CancellationToken cancellationToken = default);
}
