using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Millrace.Testing;

/// <summary>
/// A throwaway PostgreSQL server for tests: <c>initdb</c> into a fresh temporary directory, <c>postgres</c> on
/// 127.0.0.1 and a free port, trust authentication for the superuser <c>postgres</c>. Dispose stops it and deletes
/// the directory. PostgreSQL refuses to run as root, so under root the server runs as an unprivileged account
/// (<c>postgres</c> if it exists, else <c>nobody</c>) through util-linux <c>setpriv</c>.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private static readonly TimeSpan s_toolTimeout = TimeSpan.FromSeconds(60);

    private readonly string _binDir;
    private readonly string _root;
    private readonly RunAs? _runAs;
    private bool _disposed;

    private PostgresServer(string binDir, string root, RunAs? runAs, int port)
    {
        _binDir = binDir;
        _root = root;
        _runAs = runAs;
        Port = port;
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The superuser the server was initialised with (trust authentication, no password).</summary>
    public string Username => "postgres";

    /// <summary>The database every fresh cluster has.</summary>
    public string Database => "postgres";

    /// <summary>An ADO.NET (Npgsql) connection string for the superuser.</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username={Username};Database={Database};Timeout=15";

    /// <summary>The JDBC URL a Firehose Redshift destination would be configured with.</summary>
    public string JdbcUrl => $"jdbc:postgresql://127.0.0.1:{Port}/{Database}";

    /// <summary>The server's data directory (for reading its log when a test fails).</summary>
    public string DataDirectory => Path.Combine(_root, "data");

    public string LogFile => Path.Combine(_root, "postgres.log");

    /// <summary>Initialises and starts a server; throws with the tool output when PostgreSQL is missing or fails.</summary>
    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var binDir = await FindBinDirectoryAsync(cancellationToken)
            ?? throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; run scripts/install-test-tools.sh");
        var runAs = IsRoot() ? FindUnprivilegedAccount() : null;
        var root = Path.Combine(Path.GetTempPath(), "millrace-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        try
        {
            if (runAs is not null)
            {
                // The server's account must own its directory; root can still delete it afterwards.
                await RunCheckedAsync("chown", [$"{runAs.Uid}:{runAs.Gid}", root], null, root, cancellationToken);
            }

            var initdb = await RunAsync(Path.Combine(binDir, "initdb"),
                ["-D", Path.Combine(root, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                runAs, root, cancellationToken);
            if (initdb.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed: {initdb}");
            }

            // A free port can be taken between probing and binding, so a failed start tries another one (bounded).
            Exception? last = null;
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var port = FreeLoopbackPort();
                var server = new PostgresServer(binDir, root, runAs, port);
                var options = $"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50";
                var start = await RunAsync(Path.Combine(binDir, "pg_ctl"),
                    ["-D", server.DataDirectory, "-l", server.LogFile, "-w", "-t", "30", "-o", options, "start"],
                    runAs, root, cancellationToken);
                if (start.ExitCode == 0 && await WaitForPortAsync(port, cancellationToken))
                {
                    return server;
                }

                var log = File.Exists(server.LogFile) ? await File.ReadAllTextAsync(server.LogFile, cancellationToken) : "";
                last = new InvalidOperationException($"pg_ctl start failed: {start}\nlog:\n{log}");
                await server.StopAsync();
            }

            throw last!;
        }
        catch
        {
            TryDelete(root);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync();
        TryDelete(_root);
    }

    private async Task StopAsync()
    {
        if (!File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            return;
        }

        try
        {
            await RunAsync(Path.Combine(_binDir, "pg_ctl"), ["-D", DataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], _runAs, _root, CancellationToken.None);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            // Best effort: a server that cannot be stopped dies with its temp directory's removal at worst.
        }
    }

    private static void TryDelete(string root)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (Directory.Exists(root))
                {
                    Directory.Delete(root, recursive: true);
                }

                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100);
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
        }
    }

    private static async Task<bool> WaitForPortAsync(int port, CancellationToken cancellationToken)
    {
        // pg_ctl -w already waited for readiness; this confirms the TCP listener, bounded to 100 tries.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100, cancellationToken);
            }
        }

        return false;
    }

    private static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary><c>pg_config --bindir</c>, then Debian's versioned directories (newest first), then PATH.</summary>
    private static async Task<string?> FindBinDirectoryAsync(CancellationToken cancellationToken)
    {
        var candidates = new List<string>();
        var fromEnv = Environment.GetEnvironmentVariable("MILLRACE_PG_BINDIR");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            candidates.Add(fromEnv);
        }

        try
        {
            var pgConfig = await RunAsync("pg_config", ["--bindir"], null, Path.GetTempPath(), cancellationToken);
            if (pgConfig.ExitCode == 0)
            {
                candidates.Add(pgConfig.StdOut.Trim());
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // pg_config is not installed (it comes with libpq-dev); the other places are still checked.
        }

        candidates.Add("/usr/lib/postgresql/15/bin");
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
                .Select(d => Path.Combine(d, "bin")));
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        return candidates.FirstOrDefault(d =>
            File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")) && File.Exists(Path.Combine(d, "postgres")));
    }

    private static bool IsRoot()
    {
        // The effective uid is the second field of "Uid:" in /proc/self/status; no native call needed.
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                var fields = line[4..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 1 && fields[1] == "0";
            }
        }

        return false;
    }

    private sealed record RunAs(string Name, string Uid, string Gid);

    private sealed record ToolResult(int ExitCode, string StdOut, string StdErr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout:\n{StdOut}\nstderr:\n{StdErr}";
    }

    private static RunAs FindUnprivilegedAccount()
    {
        var accounts = File.ReadLines("/etc/passwd")
            .Select(l => l.Split(':'))
            .Where(f => f.Length >= 4)
            .ToDictionary(f => f[0], f => new RunAs(f[0], f[2], f[3]));
        return accounts.GetValueOrDefault("postgres") ?? accounts.GetValueOrDefault("nobody")
            ?? throw new InvalidOperationException("running as root and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL as");
    }

    private static async Task RunCheckedAsync(string fileName, IReadOnlyList<string> args, RunAs? runAs, string workingDirectory, CancellationToken cancellationToken)
    {
        var result = await RunAsync(fileName, args, runAs, workingDirectory, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} failed: {result}");
        }
    }

    private static async Task<ToolResult> RunAsync(string fileName, IReadOnlyList<string> args, RunAs? runAs, string workingDirectory, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            // The server's account must be able to enter its working directory (root's home is not readable).
            WorkingDirectory = workingDirectory,
        };
        if (runAs is null)
        {
            psi.FileName = fileName;
        }
        else
        {
            psi.FileName = "setpriv";
            foreach (var a in new[] { "--reuid", runAs.Uid, "--regid", runAs.Gid, "--clear-groups", "--" })
            {
                psi.ArgumentList.Add(a);
            }

            psi.ArgumentList.Add(fileName);
            psi.Environment["HOME"] = workingDirectory;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(s_toolTimeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} timed out");
        }

        return new ToolResult(process.ExitCode, await stdout, await stderr);
    }
}
