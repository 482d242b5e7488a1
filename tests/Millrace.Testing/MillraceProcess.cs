using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Millrace.Testing;

/// <summary>
/// A real <c>millrace serve</c> process on a random loopback port with its own data directory. Tests talk to it
/// through real clients. Kill() simulates a crash (SIGKILL); Restart() starts it again on the same directory.
/// </summary>
public sealed partial class MillraceProcess : IAsyncDisposable
{
    private Process? _process;
    private readonly List<string> _output = [];
    private readonly string[] _extraArgs;
    private readonly bool _ownsDirectory;
    private int _dynamoDbPort;

    private MillraceProcess(string dataDirectory, bool ownsDirectory, string[] extraArgs)
    {
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
        _extraArgs = extraArgs;
    }

    public string DataDirectory { get; }

    public int Port { get; private set; }

    /// <summary>The TLS port when started with --tls-port, else 0.</summary>
    public int TlsPort { get; private set; }

    /// <summary>http://127.0.0.1:port</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>The DynamoDB port: the main port (the one endpoint), or the separate one a test passed with --dynamodb-port.</summary>
    public int DynamoDbPort => _dynamoDbPort != 0 ? _dynamoDbPort : Port;

    /// <summary>http://127.0.0.1:dynamodb-port</summary>
    public string DynamoDbEndpoint => $"http://127.0.0.1:{DynamoDbPort}";

    public int ProcessId => _process?.Id ?? 0;

    public IReadOnlyList<string> Output { get { lock (_output) { return [.. _output]; } } }

    /// <summary>Path of the built CLI (copied next to the test assembly by the project reference).</summary>
    public static string CliPath => Path.Combine(AppContext.BaseDirectory, "millrace.dll");

    public static async Task<MillraceProcess> StartAsync(params string[] extraArgs)
    {
        var dir = Path.Combine(Path.GetTempPath(), "millrace-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var server = new MillraceProcess(dir, ownsDirectory: true, extraArgs);
        await server.LaunchAsync(0);
        return server;
    }

    public static async Task<MillraceProcess> StartInAsync(string dataDirectory, params string[] extraArgs)
    {
        var server = new MillraceProcess(dataDirectory, ownsDirectory: false, extraArgs);
        await server.LaunchAsync(0);
        return server;
    }

    private async Task LaunchAsync(int port)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliPath);
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add("--host");
        psi.ArgumentList.Add("127.0.0.1");
        psi.ArgumentList.Add("--port");
        psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--data-dir");
        psi.ArgumentList.Add(DataDirectory);
        foreach (var a in _extraArgs)
        {
            psi.ArgumentList.Add(a);
        }

        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        int listenPort = 0;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("millrace exited before it was ready:\n" + string.Join('\n', Output)));
                return;
            }

            lock (_output) { _output.Add(e.Data); }
            var m = ListeningLine().Match(e.Data);
            if (DynamoDbLine().Match(e.Data) is { Success: true } dynamo)
            {
                _dynamoDbPort = int.Parse(dynamo.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }

            if (TlsLine().Match(e.Data) is { Success: true } tls)
            {
                TlsPort = int.Parse(tls.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }

            if (m.Success)
            {
                listenPort = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (e.Data.Contains("ready", StringComparison.OrdinalIgnoreCase) && listenPort != 0)
            {
                ready.TrySetResult(listenPort);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_output) { _output.Add("stderr: " + e.Data); }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var _ = timeout.Token.Register(() => ready.TrySetException(new TimeoutException("millrace did not become ready:\n" + string.Join('\n', Output))));
        Port = await ready.Task;
    }

    /// <summary>SIGKILL: no flush, no clean shutdown.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM and wait for a clean exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (_process is null)
        {
            return 0;
        }

        if (!_process.HasExited)
        {
            Signals.Terminate(_process);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _process.WaitForExitAsync(cts.Token);
        }

        return _process.ExitCode;
    }

    /// <summary>Starts the server again on the same data directory (a new random port).</summary>
    public Task RestartAsync() => LaunchAsync(0);

    /// <summary>Starts the server again on the same data directory and the same port, so clients pointed at
    /// <see cref="Endpoint"/> reconnect to it (as to a restarted host behind a fixed address).</summary>
    public Task RestartOnSamePortAsync() => LaunchAsync(Port);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                await StopAsync();
            }
        }
        catch (Exception)
        {
            Kill();
        }

        _process?.Dispose();
        if (_ownsDirectory)
        {
            try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    [GeneratedRegex(@"^Millrace listening on http://127\.0\.0\.1:(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^DynamoDB listening on http://127\.0\.0\.1:(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex DynamoDbLine();

    [GeneratedRegex(@"TLS on https://127\.0\.0\.1:(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex TlsLine();

}
