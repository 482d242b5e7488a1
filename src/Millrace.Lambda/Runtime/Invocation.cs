namespace Millrace.Lambda.Runtime;

/// <summary>What a function version runs as: a snapshot of its configuration, immutable while environments run it.</summary>
public sealed record FunctionInstance(
    string Name,
    string Version,
    string FunctionArn,
    string Runtime,
    string Handler,
    int TimeoutSeconds,
    int MemorySize,
    IReadOnlyDictionary<string, string> Environment,
    string CodeDirectory,
    string RevisionId,
    string? LayerDirectory = null,
    FunctionCredentials? Credentials = null)
{
    /// <summary>Environments are reused only for exactly this configuration and code.</summary>
    public string PoolKey => $"{Name}:{Version}:{RevisionId}";

    public string LogGroup => "/aws/lambda/" + Name;
}

/// <summary>How an invocation ended: the payload (the function's result or AWS's error document) and, for an error, its type.</summary>
public sealed record InvocationResult(byte[] Payload, string? ErrorType)
{
    public bool IsError => ErrorType is not null;
}

/// <summary>The outcome of one invocation with its log (START to REPORT) for <c>LogType: Tail</c>.</summary>
public sealed record InvokeOutcome(InvocationResult Result, string ExecutedVersion, string LogText);

/// <summary>One invocation in flight in an execution environment.</summary>
internal sealed class Invocation(string requestId, byte[] payload, string invokedArn, string? clientContext)
{
    /// <summary>Lambda stores at most this much of one invocation's output; the rest is counted and dropped.</summary>
    public const int MaxLogBytes = 8 * 1024 * 1024;

    private readonly List<(long Timestamp, string Message)> _log = [];
    private long _logBytes;
    private long _droppedBytes;

    public string RequestId { get; } = requestId;

    public byte[] Payload { get; } = payload;

    public string InvokedArn { get; } = invokedArn;

    public string? ClientContext { get; } = clientContext;

    public long DeadlineMs { get; set; }

    public TaskCompletionSource<InvocationResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void AddLog(long timestamp, string message)
    {
        lock (_log)
        {
            if (_logBytes + message.Length > MaxLogBytes)
            {
                _droppedBytes += message.Length;
                return;
            }

            _logBytes += message.Length;
            _log.Add((timestamp, message));
        }
    }

    /// <summary>The output in time order, with a note of what was dropped.</summary>
    public List<(long Timestamp, string Message)> TakeLog(long now)
    {
        lock (_log)
        {
            var lines = _log.OrderBy(l => l.Timestamp).ToList();
            if (_droppedBytes > 0)
            {
                lines.Add((now, $"[millrace] {_droppedBytes} bytes of output were dropped: one invocation keeps at most {MaxLogBytes} bytes of log"));
            }

            _log.Clear();
            return lines;
        }
    }
}
