using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;

namespace Millrace.Lambda.Runtime;

/// <summary>
/// One execution environment: a process running a function's runtime, served the Runtime API on its own loopback
/// port. It takes one invocation at a time; its stdout and stderr become the invocation's log. A timeout, a crash or
/// an init failure ends the environment (the process is killed), never the server.
/// </summary>
internal sealed class ExecutionEnvironment : IAsyncDisposable
{
    /// <summary>A bootstrap prints this, then the request id, on stdout and stderr before it answers: the log is then complete.</summary>
    public const string EndMarker = "\u001eMILLRACE-END ";

    /// <summary>AWS's cap on one log event; longer lines are cut.</summary>
    private const int MaxLineBytes = 256 * 1024;

    private static readonly TimeSpan InitTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<Invocation> _next = Channel.CreateBounded<Invocation>(1);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<InvocationResult> _initError = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(long, string)> _pendingLog = [];
    private readonly TimeProvider _clock;
    private readonly bool _managedBootstrap;
    private Process? _process;
    private Invocation? _current;
    private int _markers;
    private TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _spawnedAt;
    private Task _stdout = Task.CompletedTask;
    private Task _stderr = Task.CompletedTask;

    public ExecutionEnvironment(FunctionInstance function, int port, TimeProvider clock)
    {
        Function = function;
        Port = port;
        _clock = clock;
        _managedBootstrap = !LambdaRuntimes.IsProvided(function.Runtime);
        Id = Guid.NewGuid().ToString("N");
        LogStream = $"{clock.GetUtcNow():yyyy'/'MM'/'dd}/[{function.Version}]{Id}";
    }

    public FunctionInstance Function { get; }

    public int Port { get; }

    public string Id { get; }

    public string LogStream { get; }

    /// <summary>Milliseconds from spawn to the first <c>/next</c>, once, for the REPORT line of the first invocation.</summary>
    public double? InitDurationMs { get; private set; }

    public bool IsDead { get; private set; }

    public DateTimeOffset LastUsed { get; private set; }

    private long Now => _clock.GetUtcNow().ToUnixTimeMilliseconds();

    public void Start(RuntimeLaunch launch, IReadOnlyDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo(launch.Program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Function.CodeDirectory,
        };
        foreach (var a in launch.Arguments)
        {
            psi.ArgumentList.Add(a);
        }

        // A clean environment, as on AWS: only what Lambda sets, then the function's own variables.
        psi.Environment.Clear();
        foreach (var (k, v) in launch.Environment.Concat(environment))
        {
            // Search paths add up: the layers' (and the function's own) before the runtime's, as on AWS.
            psi.Environment[k] = k is "PYTHONPATH" or "NODE_PATH" && psi.Environment.TryGetValue(k, out var earlier) && !string.IsNullOrEmpty(earlier)
                ? v + ":" + earlier
                : v;
        }

        if (launch.Note is not null)
        {
            _pendingLog.Add((Now, launch.Note));
        }

        _spawnedAt = Stopwatch.GetTimestamp();
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.Exited += (_, _) => _exited.TrySetResult();
        _process.Start();
        _process.StandardInput.Close();
        _stdout = Task.Run(() => PumpAsync(_process.StandardOutput.BaseStream));
        _stderr = Task.Run(() => PumpAsync(_process.StandardError.BaseStream));
        LastUsed = _clock.GetUtcNow();
    }

    /// <summary>Runs one invocation to its end: the function's answer, its error, a timeout, or the process's death.</summary>
    public async Task<(InvocationResult Result, List<(long, string)> Log, double DurationMs, double? InitMs)> RunAsync(Invocation invocation)
    {
        double? initMs = null;
        if (!_ready.Task.IsCompleted)
        {
            var first = await Task.WhenAny(_ready.Task, _initError.Task, _exited.Task, Task.Delay(InitTimeout));
            if (first != _ready.Task)
            {
                var failure = first == _initError.Task
                    ? _initError.Task.Result
                    : Error("Runtime.ExitError", first == _exited.Task
                        ? $"RequestId: {invocation.RequestId} Error: Runtime exited with error: {ExitText()}"
                        : $"RequestId: {invocation.RequestId} Error: Init phase did not finish within {InitTimeout.TotalSeconds:0} seconds");
                await KillAsync();
                await Task.WhenAny(Task.WhenAll(_stdout, _stderr), Task.Delay(500));
                lock (_pendingLog)
                {
                    foreach (var (ts, line) in _pendingLog)
                    {
                        invocation.AddLog(ts, line);
                    }

                    _pendingLog.Clear();
                }

                var log = await DrainAsync(invocation, waitForMarkers: false);
                return (failure, log, Elapsed(_spawnedAt), null);
            }

            initMs = InitDurationMs;
        }

        var started = Stopwatch.GetTimestamp();
        invocation.DeadlineMs = Now + (Function.TimeoutSeconds * 1000L);
        lock (_pendingLog)
        {
            foreach (var (ts, line) in _pendingLog)
            {
                invocation.AddLog(ts, line);
            }

            _pendingLog.Clear();
            _current = invocation;
            _markers = 0;
            _outputDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        await _next.Writer.WriteAsync(invocation);
        var timeout = Task.Delay(TimeSpan.FromSeconds(Function.TimeoutSeconds));
        var done = await Task.WhenAny(invocation.Result.Task, _exited.Task, timeout);
        InvocationResult result;
        if (done == invocation.Result.Task)
        {
            result = invocation.Result.Task.Result;
        }
        else if (done == timeout)
        {
            await KillAsync();
            var seconds = Function.TimeoutSeconds.ToString("0.00", CultureInfo.InvariantCulture);
            invocation.AddLog(Now, $"{_clock.GetUtcNow():yyyy-MM-ddTHH:mm:ss.fffZ} {invocation.RequestId} Task timed out after {seconds} seconds");
            result = Error("Sandbox.Timedout", $"RequestId: {invocation.RequestId} Error: Task timed out after {seconds} seconds");
        }
        else
        {
            // The process may have answered just before it exited.
            result = invocation.Result.Task.IsCompleted
                ? invocation.Result.Task.Result
                : Error("Runtime.ExitError", $"RequestId: {invocation.RequestId} Error: Runtime exited with error: {ExitText()}");
            IsDead = true;
        }

        var duration = Elapsed(started);
        var lines = await DrainAsync(invocation, waitForMarkers: !IsDead);
        lock (_pendingLog)
        {
            _current = null;
        }

        LastUsed = _clock.GetUtcNow();
        return (result, lines, duration, initMs);
    }

    /// <summary>The peak resident memory of the process (VmHWM), in MB, or 0 once it is gone.</summary>
    public int MaxMemoryUsedMb()
    {
        try
        {
            if (_process is null || _process.HasExited)
            {
                return 0;
            }

            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return (int)Math.Ceiling(kb / 1024.0);
                }
            }
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    // ---- the Runtime API, called by RuntimeApiHost ----

    public async ValueTask<Invocation> NextAsync(CancellationToken cancellationToken)
    {
        if (!_ready.Task.IsCompleted)
        {
            InitDurationMs = Elapsed(_spawnedAt);
            _ready.TrySetResult();
        }

        return await _next.Reader.ReadAsync(cancellationToken);
    }

    public bool Respond(string requestId, byte[] payload) => Complete(requestId, new InvocationResult(payload, null));

    public bool Fail(string requestId, byte[] error, string? errorType) =>
        Complete(requestId, new InvocationResult(error.Length > 0 ? error : Encoding.UTF8.GetBytes("{}"), errorType ?? "Unhandled"));

    public void InitFailed(byte[] error, string? errorType) =>
        _initError.TrySetResult(new InvocationResult(error, errorType ?? "Runtime.Unknown"));

    private bool Complete(string requestId, InvocationResult result)
    {
        var current = _current;
        return current is not null && current.RequestId == requestId && current.Result.TrySetResult(result);
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private async Task KillAsync()
    {
        IsDead = true;
        _next.Writer.TryComplete();
        if (_process is { } p)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }

                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
            }
        }
    }

    private string ExitText()
    {
        try
        {
            return _process is { HasExited: true } p ? (p.ExitCode > 128 ? $"signal: {SignalName(p.ExitCode - 128)}" : $"exit status {p.ExitCode}") : "unknown";
        }
        catch (InvalidOperationException)
        {
            return "unknown";
        }
    }

    private static string SignalName(int signal) => signal switch { 9 => "killed", 6 => "aborted", 11 => "segmentation fault", 15 => "terminated", _ => signal.ToString(CultureInfo.InvariantCulture) };

    private static InvocationResult Error(string type, string message) =>
        new(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["errorType"] = type, ["errorMessage"] = message }), type);

    private static double Elapsed(long since) => Stopwatch.GetElapsedTime(since).TotalMilliseconds;

    /// <summary>Waits until the invocation's output is read: the bootstraps' end markers, or a short quiet spell for custom runtimes.</summary>
    private async Task<List<(long, string)>> DrainAsync(Invocation invocation, bool waitForMarkers)
    {
        if (!waitForMarkers)
        {
            await Task.WhenAny(Task.WhenAll(_stdout, _stderr), Task.Delay(500));
        }
        else if (_managedBootstrap)
        {
            await Task.WhenAny(_outputDone.Task, _exited.Task, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        else
        {
            await Task.Delay(20);
        }

        return invocation.TakeLog(Now);
    }

    private async Task PumpAsync(Stream stream)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var line = new List<byte>(256);
        var truncated = false;
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer)) > 0)
            {
                var span = buffer.AsSpan(0, read);
                while (span.Length > 0)
                {
                    var newline = span.IndexOf((byte)'\n');
                    var chunk = newline < 0 ? span : span[..newline];
                    var room = MaxLineBytes - line.Count;
                    if (chunk.Length > room)
                    {
                        truncated = true;
                    }

                    line.AddRange(chunk[..Math.Min(room, chunk.Length)]);
                    if (newline < 0)
                    {
                        break;
                    }

                    OnLine(Encoding.UTF8.GetString(line.ToArray()), truncated);
                    line.Clear();
                    truncated = false;
                    span = span[(newline + 1)..];
                }
            }

            if (line.Count > 0)
            {
                OnLine(Encoding.UTF8.GetString(line.ToArray()), truncated);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void OnLine(string text, bool truncated)
    {
        if (text.StartsWith(EndMarker, StringComparison.Ordinal))
        {
            if (_current?.RequestId == text[EndMarker.Length..].Trim() && Interlocked.Increment(ref _markers) == 2)
            {
                _outputDone.TrySetResult(); // both stdout and stderr are read up to the end of this invocation
            }

            return;
        }

        // Runtimes send multi-line events (tracebacks) as one line with \r, as AWS's do.
        var message = text.TrimEnd('\r').Replace('\r', '\n') + (truncated ? " [truncated]" : "");
        lock (_pendingLog)
        {
            if (_current is { } current)
            {
                current.AddLog(Now, message);
            }
            else if (_pendingLog.Count < 10_000)
            {
                _pendingLog.Add((Now, message));
            }
        }
    }
}
