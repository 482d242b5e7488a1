using System.Diagnostics;
using System.Globalization;

namespace Millrace.Consumer.Tests;

/// <summary>One line a worker printed (see Millrace.Consumer.TestWorker/Program.cs).</summary>
public sealed record WorkerLine(string Worker, string Kind, long Ticks, string[] Fields)
{
    public string Shard => Fields[0];
}

/// <summary>A Millrace.Consumer.TestWorker process: its output lines, kill -9, graceful shutdown.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<WorkerLine> _lines = [];
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WorkerProcess(string workerId, Process process)
    {
        WorkerId = workerId;
        _process = process;
    }

    public string WorkerId { get; }

    public IReadOnlyList<WorkerLine> Lines { get { lock (_lines) { return [.. _lines]; } } }

    public IEnumerable<WorkerLine> Of(string kind) => Lines.Where(l => l.Kind == kind);

    public bool HasExited => _process.HasExited;

    public static WorkerProcess Start(string workerId, IDictionary<string, string> options)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Millrace.Consumer.TestWorker.dll"));
        psi.ArgumentList.Add("worker=" + workerId);
        foreach (var (k, v) in options)
            psi.ArgumentList.Add($"{k}={v}");
        psi.Environment["AWS_EC2_METADATA_DISABLED"] = "true";
        psi.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var worker = new WorkerProcess(workerId, process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            var parts = e.Data.Split('\t');
            if (parts.Length < 2 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
                return;
            var line = new WorkerLine(workerId, parts[0], ticks, parts[2..]);
            lock (worker._lines)
                worker._lines.Add(line);
            if (line.Kind == "READY")
                worker._ready.TrySetResult();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                lock (worker._lines)
                    worker._lines.Add(new WorkerLine(workerId, "STDERR", DateTime.UtcNow.Ticks, [e.Data]));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return worker;
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await using var _ = cts.Token.Register(() => _ready.TrySetException(new TimeoutException($"worker {WorkerId} not ready:\n{Dump()}")));
        await _ready.Task;
    }

    /// <summary>SIGKILL: no shutdown, no eviction, no flush.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>Graceful shutdown (ShutdownRequested, checkpoints, eviction); returns the exit code.</summary>
    public async Task<int> ShutdownAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            try
            {
                await _process.StandardInput.WriteLineAsync("shutdown");
                await _process.StandardInput.FlushAsync();
            }
            catch (IOException)
            {
            }
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
                throw new TimeoutException($"worker {WorkerId} did not shut down:\n{Dump()}");
            }
        }
        _process.WaitForExit(); // drains the output
        return _process.ExitCode;
    }

    public string Dump(int last = 60) => string.Join('\n', Lines.Where(l => l.Kind != "R").TakeLast(last)
        .Select(l => $"{l.Worker} {l.Kind} {new DateTime(l.Ticks, DateTimeKind.Utc):HH:mm:ss.fff} {string.Join(' ', l.Fields)}"));

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
