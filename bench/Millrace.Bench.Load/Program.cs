using Millrace.Bench.Load;

// millrace-load: a Kinesis wire-protocol load generator. See LoadOptions for the arguments.
try
{
    var options = LoadOptions.Parse(args);
    if (options is null)
    {
        Console.WriteLine(LoadOptions.Usage);
        return 0;
    }

    var results = await LoadRunner.RunAsync(options, Console.Out, CancellationToken.None);
    var table = MarkdownTable.Format(results);
    if (options.MarkdownPath is { } md)
    {
        await File.WriteAllTextAsync(md, table);
    }
    else
    {
        await Console.Error.WriteAsync(table);
    }

    return results.Any(r => r.Error is not null) ? 1 : 0;
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    await Console.Error.WriteLineAsync(LoadOptions.Usage);
    return 2;
}
