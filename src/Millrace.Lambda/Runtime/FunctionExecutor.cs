using System.Globalization;
using System.Text;

namespace Millrace.Lambda.Runtime;

/// <summary>Refused for want of capacity: AWS's 429 TooManyRequestsException, with its Reason.</summary>
public sealed class ThrottledException(string reason) : Exception("Rate Exceeded.")
{
    public string Reason { get; } = reason;
}

/// <summary>The function's runtime cannot start here (no interpreter, no bootstrap).</summary>
public sealed class RuntimeUnavailableException(string message) : Exception(message);

/// <summary>
/// Runs invocations in execution environments: reuses a warm one of the same function version, else starts one
/// while the function's reserved concurrency and the server's slots allow (stopping another function's idle
/// environment to free a slot), else throttles. Writes each invocation's log, START to REPORT, to the function's
/// log group, and stops environments idle for longer than <see cref="LambdaOptions.IdleTimeout"/>.
/// </summary>
public sealed class FunctionExecutor : IAsyncDisposable
{
    private const int TailBytes = 4096;

    private readonly LambdaOptions _options;
    private readonly LambdaRuntimes _runtimes;
    private readonly RuntimeApiHost _host;
    private readonly IFunctionLogSink _logs;
    private readonly object _gate = new();
    private readonly Dictionary<string, Stack<ExecutionEnvironment>> _idle = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _busyByFunction = new(StringComparer.Ordinal);
    private readonly HashSet<ExecutionEnvironment> _all = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _reaper;

    // Logs are written behind the invocation (one writer, in order): an Invoke does not wait for their fsync.
    private readonly System.Threading.Channels.Channel<(string Group, string Stream, List<(long, string)> Events)> _pendingLogs =
        System.Threading.Channels.Channel.CreateUnbounded<(string, string, List<(long, string)>)>(new() { SingleReader = true });
    private readonly Task _logWriter;

    private FunctionExecutor(LambdaOptions options, LambdaRuntimes runtimes, RuntimeApiHost host, IFunctionLogSink logs)
    {
        _options = options;
        _runtimes = runtimes;
        _host = host;
        _logs = logs;
        _reaper = Task.Run(ReapIdleAsync);
        _logWriter = Task.Run(WriteLogsAsync);
    }

    public static async Task<FunctionExecutor> StartAsync(LambdaOptions options, IFunctionLogSink logs, CancellationToken ct = default)
    {
        var runtimes = new LambdaRuntimes(Path.Combine(options.WorkDirectory, "bootstrap"));
        var host = await RuntimeApiHost.StartAsync(options.Concurrency, ct);
        return new FunctionExecutor(options, runtimes, host, logs);
    }

    public LambdaRuntimes Runtimes => _runtimes;

    public async Task<InvokeOutcome> InvokeAsync(FunctionInstance function, byte[] payload, string invokedArn, int? reservedConcurrency,
        string? clientContext = null, CancellationToken cancellationToken = default, string? requestId = null)
    {
        var env = await AcquireAsync(function, reservedConcurrency);
        requestId ??= Guid.NewGuid().ToString(); // a synchronous Invoke's is its API request's, as on AWS
        var invocation = new Invocation(requestId, payload, invokedArn, clientContext);
        var startedMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        try
        {
            var (result, lines, durationMs, initMs) = await env.RunAsync(invocation);
            var log = QueueLog(env, requestId, startedMs, lines, durationMs, initMs);
            return new InvokeOutcome(result, function.Version, log);
        }
        finally
        {
            await ReleaseAsync(env);
        }
    }

    /// <summary>Stops every environment of a function (its code or configuration changed, or it was deleted); busy ones finish first.</summary>
    public async Task RetireAsync(string functionName)
    {
        List<ExecutionEnvironment> stop = [];
        lock (_gate)
        {
            foreach (var key in _idle.Keys.Where(k => k.StartsWith(functionName + ":", StringComparison.Ordinal)).ToList())
            {
                stop.AddRange(_idle[key]);
                _idle.Remove(key);
            }

            foreach (var env in stop)
            {
                _all.Remove(env);
            }
        }

        foreach (var env in stop)
        {
            await StopAsync(env);
        }
    }

    private async Task<ExecutionEnvironment> AcquireAsync(FunctionInstance function, int? reserved)
    {
        var (launch, failure) = _runtimes.Resolve(function.Runtime, function.CodeDirectory);
        if (launch is null)
        {
            throw new RuntimeUnavailableException(failure!);
        }

        ExecutionEnvironment? evict = null;
        int port;
        lock (_gate)
        {
            _busyByFunction.TryGetValue(function.Name, out var busy);
            if (reserved is { } limit && busy >= limit)
            {
                throw new ThrottledException("ReservedFunctionConcurrentInvocationLimitExceeded");
            }

            if (_idle.TryGetValue(function.PoolKey, out var warm) && warm.TryPop(out var reuse))
            {
                _busyByFunction[function.Name] = busy + 1;
                return reuse;
            }

            if (!_host.TryRent(out port))
            {
                // Free a slot held by the least recently used idle environment of any function.
                var victim = _idle.Values.SelectMany(s => s).OrderBy(e => e.LastUsed).FirstOrDefault()
                    ?? throw new ThrottledException("ConcurrentInvocationLimitExceeded");
                var stack = _idle.First(kv => kv.Value.Contains(victim));
                _idle[stack.Key] = new Stack<ExecutionEnvironment>(stack.Value.Where(e => e != victim).Reverse());
                _all.Remove(victim);
                evict = victim;
                port = -1;
            }

            _busyByFunction[function.Name] = busy + 1;
        }

        if (evict is not null)
        {
            await StopAsync(evict);
            if (!_host.TryRent(out port))
            {
                lock (_gate)
                {
                    _busyByFunction[function.Name]--;
                }

                throw new ThrottledException("ConcurrentInvocationLimitExceeded");
            }
        }

        var env = new ExecutionEnvironment(function, port, _options.Clock);
        _host.Bind(port, env);
        lock (_gate)
        {
            _all.Add(env);
        }

        env.Start(launch, EnvironmentOf(function, env));
        return env;
    }

    private async Task ReleaseAsync(ExecutionEnvironment env)
    {
        var stop = false;
        lock (_gate)
        {
            _busyByFunction[env.Function.Name]--;
            if (env.IsDead || _stopping.IsCancellationRequested || !_all.Contains(env))
            {
                _all.Remove(env);
                stop = true;
            }
            else
            {
                if (!_idle.TryGetValue(env.Function.PoolKey, out var stack))
                {
                    _idle[env.Function.PoolKey] = stack = new Stack<ExecutionEnvironment>();
                }

                stack.Push(env);
            }
        }

        if (stop)
        {
            await StopAsync(env);
        }
    }

    private async Task StopAsync(ExecutionEnvironment env)
    {
        await env.DisposeAsync();
        _host.Return(env.Port);
    }

    private Dictionary<string, string> EnvironmentOf(FunctionInstance f, ExecutionEnvironment env)
    {
        var vars = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = "/usr/local/bin:/usr/bin:/bin:/opt/bin",
            ["LANG"] = "en_US.UTF-8",
            ["HOME"] = Path.GetTempPath(),
            ["TZ"] = ":UTC",
            ["PYTHONUNBUFFERED"] = "1",
            ["PYTHONDONTWRITEBYTECODE"] = "1",
            ["LAMBDA_TASK_ROOT"] = f.CodeDirectory,
            ["LAMBDA_RUNTIME_DIR"] = Path.Combine(_options.WorkDirectory, "bootstrap"),
            ["_HANDLER"] = f.Handler,
            ["AWS_LAMBDA_RUNTIME_API"] = $"127.0.0.1:{env.Port}",
            ["AWS_LAMBDA_FUNCTION_NAME"] = f.Name,
            ["AWS_LAMBDA_FUNCTION_VERSION"] = f.Version,
            ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = f.MemorySize.ToString(CultureInfo.InvariantCulture),
            ["AWS_LAMBDA_LOG_GROUP_NAME"] = f.LogGroup,
            ["AWS_LAMBDA_LOG_STREAM_NAME"] = env.LogStream,
            ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "on-demand",
            ["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + f.Runtime,
            ["AWS_REGION"] = _options.Region,
            ["AWS_DEFAULT_REGION"] = _options.Region,
            // The execution role's session (--auth sigv4), else placeholders --auth none accepts.
            ["AWS_ACCESS_KEY_ID"] = f.Credentials?.AccessKeyId ?? "AKIDMILLRACELAMBDA",
            ["AWS_SECRET_ACCESS_KEY"] = f.Credentials?.SecretAccessKey ?? "millrace-lambda-secret",
            ["AWS_SESSION_TOKEN"] = f.Credentials?.SessionToken ?? "millrace-lambda-session",
        };
        if (_options.ServiceEndpoint is { } endpoint)
        {
            vars["AWS_ENDPOINT_URL"] = endpoint;
        }

        if (f.LayerDirectory is { } opt)
        {
            // Where AWS puts /opt's folders on the paths; the runtime's own PYTHONPATH (if any) comes after these.
            vars["PATH"] += $":{opt}/bin";
            vars["LD_LIBRARY_PATH"] = $"{opt}/lib";
            vars["MILLRACE_LAYERS_DIR"] = opt;
            if (f.Runtime.StartsWith("python", StringComparison.Ordinal))
            {
                vars["PYTHONPATH"] = $"{opt}/python/lib/{f.Runtime}/site-packages:{opt}/python";
            }
            else if (f.Runtime.StartsWith("nodejs", StringComparison.Ordinal))
            {
                var major = f.Runtime["nodejs".Length..].TrimEnd('x').TrimEnd('.');
                vars["NODE_PATH"] = $"{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules";
            }
        }

        foreach (var (k, v) in f.Environment)
        {
            vars[k] = v;
        }

        return vars;
    }

    private async Task WriteLogsAsync()
    {
        await foreach (var (group, stream, events) in _pendingLogs.Reader.ReadAllAsync())
        {
            try
            {
                await _logs.WriteAsync(group, stream, events);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Logs are best effort: an invocation never fails because its log could not be written.
            }
        }
    }

    /// <summary>Queues the invocation's log (START to REPORT) for its log stream and returns its last 4 KB for <c>LogType: Tail</c>.</summary>
    private string QueueLog(ExecutionEnvironment env, string requestId, long startedMs, List<(long Timestamp, string Message)> lines,
        double durationMs, double? initMs)
    {
        var f = env.Function;
        var endMs = _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();
        var events = new List<(long, string)>(lines.Count + 3) { (startedMs, $"START RequestId: {requestId} Version: {f.Version}") };
        events.AddRange(lines.Select(l => (Math.Max(l.Timestamp, startedMs), l.Message)));
        events.Add((endMs, $"END RequestId: {requestId}"));
        var report = new StringBuilder().Append(CultureInfo.InvariantCulture, $"REPORT RequestId: {requestId}\tDuration: {durationMs:0.00} ms\tBilled Duration: {Math.Max(1, (long)Math.Ceiling(durationMs))} ms\t");
        report.Append(CultureInfo.InvariantCulture, $"Memory Size: {f.MemorySize} MB\tMax Memory Used: {env.MaxMemoryUsedMb()} MB\t");
        if (initMs is { } init)
        {
            report.Append(CultureInfo.InvariantCulture, $"Init Duration: {init:0.00} ms\t");
        }

        events.Add((endMs, report.ToString()));
        events.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        _pendingLogs.Writer.TryWrite((f.LogGroup, env.LogStream, events));

        var text = string.Concat(events.Select(e => e.Item2 + "\n"));
        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length <= TailBytes ? text : Encoding.UTF8.GetString(bytes, bytes.Length - TailBytes, TailBytes);
    }

    private async Task ReapIdleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(_options.IdleTimeout.TotalSeconds / 4, 1, 30)));
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                var cutoff = _options.Clock.GetUtcNow() - _options.IdleTimeout;
                List<ExecutionEnvironment> stop;
                lock (_gate)
                {
                    stop = _idle.Values.SelectMany(s => s).Where(e => e.LastUsed < cutoff).ToList();
                    foreach (var key in _idle.Keys.ToList())
                    {
                        _idle[key] = new Stack<ExecutionEnvironment>(_idle[key].Where(e => !stop.Contains(e)).Reverse());
                    }

                    foreach (var env in stop)
                    {
                        _all.Remove(env);
                    }
                }

                foreach (var env in stop)
                {
                    await StopAsync(env);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _reaper;
        List<ExecutionEnvironment> all;
        lock (_gate)
        {
            all = [.. _all];
            _all.Clear();
            _idle.Clear();
        }

        foreach (var env in all)
        {
            await env.DisposeAsync();
        }

        await _host.DisposeAsync();
        _pendingLogs.Writer.TryComplete();
        await _logWriter;
        _stopping.Dispose();
    }
}
