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

    /// <summary>
    /// Temporary credentials of a function's execution role (by role ARN), handed to its environments as AWS gives
    /// them; null (or a null answer: no such role) gives placeholder credentials, which only --auth none accepts.
    /// </summary>
    public Func<string, CancellationToken, Task<FunctionCredentials?>>? RoleCredentials { get; set; }

    /// <summary>
    /// Whether a role may do an action on a resource (--auth sigv4): event-source mappings read their stream as the
    /// function's execution role, as AWS's do. Null: no checks.
    /// </summary>
    public Gateway.RoleAuthorization? RoleAllows { get; set; }

    /// <summary>The waits before the two retries of a failed asynchronous invocation (AWS: about 1 and 2 minutes).</summary>
    public IReadOnlyList<TimeSpan> AsyncRetryDelays { get; init; } = [TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(2)];
}

/// <summary>Where function logs go: the host connects it to CloudWatch Logs, in process.</summary>
public interface IFunctionLogSink
{
    /// <summary>Appends events (timestamp in epoch milliseconds, message) to a stream of a group, creating both if needed.</summary>
    ValueTask WriteAsync(string group, string stream, IReadOnlyList<(long Timestamp, string Message)> events, CancellationToken cancellationToken = default);
}

/// <summary>The credentials a function's code finds in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.</summary>
public sealed record FunctionCredentials(string AccessKeyId, string SecretAccessKey, string SessionToken);
