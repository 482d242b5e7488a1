using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Millrace.Lambda.Runtime;

/// <summary>How an environment of a runtime is started: the program, its arguments, and a note for the log when the interpreter is not the exact version asked for.</summary>
public sealed record RuntimeLaunch(string Program, IReadOnlyList<string> Arguments, string? Note, string ExecutionEnv)
{
    /// <summary>Variables the runtime itself needs (e.g. PYTHONPATH to the SDK), set before the function's own.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Maps Lambda runtime names to this machine's interpreters: python3.x to the matching <c>python3.x</c> (PATH, then
/// pyenv's versions) or the nearest one, nodejs*.x to <c>node</c>, provided* to the archive's <c>bootstrap</c>.
/// </summary>
public sealed partial class LambdaRuntimes
{
    private readonly string _bootstrapDirectory;
    private readonly Lazy<IReadOnlyList<(Version Version, string Path)>> _pythons = new(FindPythons);
    private readonly Lazy<(Version Version, string Path)?> _node = new(FindNode);
    private readonly Dictionary<string, bool> _hasBoto3 = new(StringComparer.Ordinal);
    private readonly Lazy<string?> _pythonSdk;

    public LambdaRuntimes(string bootstrapDirectory)
    {
        _bootstrapDirectory = bootstrapDirectory;
        _pythonSdk = new Lazy<string?>(LinkPythonSdk);
        Directory.CreateDirectory(bootstrapDirectory);
        foreach (var name in new[] { "python_bootstrap.py", "node_bootstrap.js" })
        {
            using var resource = typeof(LambdaRuntimes).Assembly.GetManifestResourceStream("bootstrap/" + name)
                ?? throw new InvalidOperationException($"bootstrap {name} is not embedded");
            using var file = File.Create(Path.Combine(bootstrapDirectory, name));
            resource.CopyTo(file);
        }
    }

    public static bool IsProvided(string runtime) => runtime.StartsWith("provided", StringComparison.Ordinal);

    /// <summary>How to start <paramref name="runtime"/>, or the reason it cannot run here.</summary>
    public (RuntimeLaunch? Launch, string? Failure) Resolve(string runtime, string taskRoot)
    {
        if (IsProvided(runtime))
        {
            var bootstrap = Path.Combine(taskRoot, "bootstrap");
            return File.Exists(bootstrap)
                ? (new RuntimeLaunch(bootstrap, [], null, "AWS_Lambda_" + runtime), null)
                : (null, "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
        }

        if (PythonRuntime().Match(runtime) is { Success: true } py)
        {
            var wanted = new Version(3, int.Parse(py.Groups[1].Value, CultureInfo.InvariantCulture));
            var found = _pythons.Value;
            if (found.Count == 0)
            {
                return (null, $"No Python interpreter is installed on this machine to run {runtime}.");
            }

            var best = found.OrderBy(p => Math.Abs(p.Version.Minor - wanted.Minor)).ThenByDescending(p => p.Version).First();
            var note = best.Version.Major == wanted.Major && best.Version.Minor == wanted.Minor
                ? null
                : $"[millrace] {runtime} is not installed here; running it on Python {best.Version.Major}.{best.Version.Minor} ({best.Path})";
            var launch = new RuntimeLaunch(best.Path, ["-u", Path.Combine(_bootstrapDirectory, "python_bootstrap.py")], note, "AWS_Lambda_" + runtime);

            // AWS's Python runtimes include boto3; where this interpreter has none, lend it the machine's (pure Python).
            if (!HasBoto3(best.Path) && _pythonSdk.Value is { } sdk)
            {
                launch = launch with { Environment = new Dictionary<string, string> { ["PYTHONPATH"] = sdk } };
            }

            return (launch, null);
        }

        if (NodeRuntime().Match(runtime) is { Success: true } js)
        {
            if (_node.Value is not { } node)
            {
                return (null, $"Node.js is not installed on this machine to run {runtime}.");
            }

            var major = int.Parse(js.Groups[1].Value, CultureInfo.InvariantCulture);
            var note = node.Version.Major == major ? null : $"[millrace] {runtime} is not installed here; running it on Node.js {node.Version} ({node.Path})";
            return (new RuntimeLaunch(node.Path, [Path.Combine(_bootstrapDirectory, "node_bootstrap.js")], note, "AWS_Lambda_" + runtime), null);
        }

        return (null, $"The runtime {runtime} cannot run on Millrace: python3.x, nodejs*.x and provided* runtimes can.");
    }

    private bool HasBoto3(string python)
    {
        lock (_hasBoto3)
        {
            if (!_hasBoto3.TryGetValue(python, out var has))
            {
                _hasBoto3[python] = has = Run(python, "-c", "import boto3") is not null;
            }

            return has;
        }
    }

    /// <summary>A directory of links to boto3 and its pure-Python dependencies from an interpreter that has them.</summary>
    private string? LinkPythonSdk()
    {
        foreach (var (_, python) in _pythons.Value.OrderByDescending(p => p.Version))
        {
            if (Run(python, "-c", "import boto3, os; print(os.path.dirname(os.path.dirname(boto3.__file__)))") is not { } output)
            {
                continue;
            }

            var sitePackages = output.Trim();
            var sdk = Path.Combine(_bootstrapDirectory, "python-sdk");
            Directory.CreateDirectory(sdk);
            foreach (var module in new[] { "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py" })
            {
                var source = Path.Combine(sitePackages, module);
                var link = Path.Combine(sdk, module);
                if ((Directory.Exists(source) || File.Exists(source)) && !Path.Exists(link))
                {
                    if (Directory.Exists(source))
                    {
                        Directory.CreateSymbolicLink(link, source);
                    }
                    else
                    {
                        File.CreateSymbolicLink(link, source);
                    }
                }
            }

            return sdk;
        }

        return null;
    }

    /// <summary>The program's standard output when it exits with 0, else null.</summary>
    private static string? Run(string program, params string[] arguments)
    {
        try
        {
            var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in arguments)
            {
                psi.ArgumentList.Add(a);
            }

            using var process = Process.Start(psi);
            if (process is null)
            {
                return null;
            }

            var stdout = process.StandardOutput.ReadToEndAsync();
            process.StandardError.ReadToEnd();
            return process.WaitForExit(30_000) && process.ExitCode == 0 ? stdout.Result : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static IReadOnlyList<(Version, string)> FindPythons()
    {
        // pyenv's versions first: where Debian's interpreter and a pyenv one share a minor version, the pyenv one is
        // the machine's working Python (with its packages, boto3 among them).
        var candidates = new List<string>();
        var pyenv = Environment.GetEnvironmentVariable("PYENV_ROOT") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".pyenv");
        if (Directory.Exists(Path.Combine(pyenv, "versions")))
        {
            foreach (var version in Directory.EnumerateDirectories(Path.Combine(pyenv, "versions")).Order(StringComparer.Ordinal).Reverse())
            {
                if (Directory.Exists(Path.Combine(version, "bin")))
                {
                    candidates.AddRange(Directory.EnumerateFiles(Path.Combine(version, "bin"), "python3.*").Where(f => PythonBinary().IsMatch(Path.GetFileName(f))));
                }
            }
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Directory.Exists(dir))
            {
                candidates.AddRange(Directory.EnumerateFiles(dir, "python3.*").Where(f => PythonBinary().IsMatch(Path.GetFileName(f))));
            }
        }

        // pyenv's shims on PATH only forward to the versions found above.
        var found = new Dictionary<Version, string>();
        foreach (var path in candidates.Where(p => !p.Contains("/shims/", StringComparison.Ordinal)))
        {
            if (VersionOf(path, "--version") is { } v && v.Major == 3 && !found.ContainsKey(new Version(3, v.Minor)))
            {
                found[new Version(3, v.Minor)] = path;
            }
        }

        return found.Select(kv => (kv.Key, kv.Value)).ToList();
    }

    private static (Version, string)? FindNode()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, "node");
            if (File.Exists(path) && VersionOf(path, "--version") is { } v)
            {
                return (v, path);
            }
        }

        return null;
    }

    private static Version? VersionOf(string program, string argument)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, argument) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (process is null)
            {
                return null;
            }

            var text = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit(5_000);
            var m = VersionText().Match(text);
            return m.Success ? new Version(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)) : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    [GeneratedRegex(@"^python3\.(\d+)$")]
    private static partial Regex PythonRuntime();

    [GeneratedRegex(@"^nodejs(\d+)\.x$")]
    private static partial Regex NodeRuntime();

    [GeneratedRegex(@"^python3\.\d+$")]
    private static partial Regex PythonBinary();

    [GeneratedRegex(@"(\d+)\.(\d+)")]
    private static partial Regex VersionText();
}
