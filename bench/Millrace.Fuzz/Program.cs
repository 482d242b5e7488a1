using Millrace.Fuzz;
using SharpFuzz;

// millrace-fuzz TARGET            run under afl-fuzz (persistent mode; scripts/fuzz.sh starts it)
// millrace-fuzz --replay TARGET DIR  run every file of DIR through TARGET once, outside AFL (regressions, corpus checks)
// millrace-fuzz --list            the targets
if (args is ["--list"])
{
    foreach (var listed in FuzzTargets.All.Keys)
    {
        Console.WriteLine(listed);
    }

    return 0;
}

if (args is ["--replay", var replayTarget, var directory])
{
    var run = FuzzTargets.All[replayTarget];
    int count = 0;
    foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
    {
        run(File.ReadAllBytes(file));
        count++;
    }

    Console.WriteLine($"{replayTarget}: {count} inputs, no failure");
    return 0;
}

if (args is [var name] && FuzzTargets.All.TryGetValue(name, out var target))
{
    Fuzzer.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target(buffer.ToArray());
    });
    return 0;
}

Console.Error.WriteLine($"usage: Millrace.Fuzz TARGET | --replay TARGET DIR | --list (targets: {string.Join(", ", FuzzTargets.All.Keys)})");
return 2;
