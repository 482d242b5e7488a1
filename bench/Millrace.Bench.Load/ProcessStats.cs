using System.Globalization;

namespace Millrace.Bench.Load;

/// <summary>CPU seconds and peak RSS of a process and its descendants, from Linux /proc (null elsewhere).</summary>
public static class ProcessStats
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public static double? CpuSeconds(int? pid)
    {
        if (pid is null || !OperatingSystem.IsLinux())
        {
            return null;
        }

        double total = 0;
        foreach (var p in Tree(pid.Value))
        {
            var fields = StatFields(p);
            if (fields is not null)
            {
                // utime and stime are fields 14 and 15 (1-based); fields[0] is field 3.
                total += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            }
        }

        return total;
    }

    public static double? PeakRssMiB(int? pid)
    {
        if (pid is null || !OperatingSystem.IsLinux())
        {
            return null;
        }

        double kib = 0;
        foreach (var p in Tree(pid.Value))
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{p}/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        kib += double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        return Math.Round(kib / 1024, 1);
    }

    private static List<int> Tree(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var p) && StatFields(p) is { } f)
            {
                parents[p] = int.Parse(f[1], CultureInfo.InvariantCulture);
            }
        }

        var tree = new List<int> { root };
        for (int i = 0; i < tree.Count && i < 1000; i++)
        {
            foreach (var (child, parent) in parents)
            {
                if (parent == tree[i])
                {
                    tree.Add(child);
                }
            }
        }

        return tree;
    }

    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return stat[(close + 2)..].Split(' ');
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
