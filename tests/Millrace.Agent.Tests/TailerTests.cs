using System.Text;
using System.Threading.Channels;
using Millrace.Agent.Checkpoints;
using Millrace.Agent.Files;

namespace Millrace.Agent.Tests;

/// <summary>The configuration's defaults and the tailer's record rules (multi-line records, headers, footers, the size limit), on real files.</summary>
public sealed class TailerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-tailer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FlowConfiguration Flow(string extra) =>
        AgentConfiguration.Parse($$"""{"flows":[{"filePattern":"app.log","kinesisStream":"s","initialPosition":"START_OF_FILE"{{extra}}}]}""", _dir).Flows[0];

    private async Task<List<string>> TailAsync(FlowConfiguration flow, string content, int expected)
    {
        await File.WriteAllTextAsync(Path.Combine(_dir, "app.log"), content);
        using var store = CheckpointStore.Open(Path.Combine(_dir, "cp.db"));
        var channel = Channel.CreateUnbounded<TailedRecord>();
        using var stop = new CancellationTokenSource();
        var tailer = new FlowTailer(flow, store, channel.Writer, TimeProvider.System);
        var running = tailer.RunAsync(stop.Token);
        var records = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (records.Count < expected)
        {
            var r = await channel.Reader.ReadAsync(timeout.Token);
            records.Add(Encoding.UTF8.GetString(r.Data));
        }

        await Task.Delay(300);
        while (channel.Reader.TryRead(out var more))
        {
            records.Add(Encoding.UTF8.GetString(more.Data));
        }

        await stop.CancelAsync();
        await running;
        return records;
    }

    [Fact]
    public void Defaults_are_the_AWS_agents()
    {
        var config = AgentConfiguration.Parse("""{"flows":[{"filePattern":"/var/log/app.log*","kinesisStream":"s"},{"filePattern":"/var/log/b","deliveryStream":"d"}]}""", _dir);
        Assert.Equal("/var/run/aws-kinesis-agent/checkpoints", config.CheckpointFile);
        Assert.Equal(7, config.CheckpointTimeToLiveDays);
        Assert.Equal(10_000, config.ShutdownTimeoutMillis);
        var k = config.Flows[0];
        Assert.Equal(("kinesis:s:/var/log/app.log*", false, 60_000, 500, 5 * 1024 * 1024, 100, 10_000, false, 1024 * 1024),
            (k.Id, k.StartAtBeginning, k.MaxBufferAgeMillis, k.MaxBufferSizeRecords, k.MaxBufferSizeBytes, k.RetryInitialBackoffMillis, k.RetryMaxBackoffMillis, k.KplAggregation, k.MaxRecordBytes));
        var f = config.Flows[1];
        Assert.Equal(("fh:d:/var/log/b", 4 * 1024 * 1024, 1000 * 1024, 0), (f.Id, f.MaxBufferSizeBytes, f.MaxRecordBytes, f.AggregatedRecordSizeBytes));
        Assert.Equal(Path.Combine(_dir, "app.log"), Flow("").FilePattern);
    }

    [Fact]
    public async Task Multi_line_records_start_at_a_matching_line()
    {
        var flow = Flow(""","multiLineStartPattern":"^\\d{4}-","maxBufferAgeMillis":1000""");
        var records = await TailAsync(flow, "2026-12-07 boom\n  at A\n  at B\n2026-12-07 fine\n2026-12-07 last\n  at C\n", 3);
        Assert.Equal(["2026-12-07 boom\n  at A\n  at B\n", "2026-12-07 fine\n", "2026-12-07 last\n  at C\n"], records);
    }

    [Fact]
    public async Task Header_lines_are_skipped_and_a_footer_ends_the_file()
    {
        var records = await TailAsync(Flow(""","skipHeaderLines":2,"fileFooterPattern":"^END$" """), "h1\nh2\na\nb\nEND\nafter\n", 2);
        Assert.Equal(["a\n", "b\n"], records);
    }

    [Fact]
    public async Task A_partial_last_line_waits_for_its_newline()
    {
        var records = await TailAsync(Flow(""), "one\ntwo\nthr", 2);
        Assert.Equal(["one\n", "two\n"], records);
    }

    [Fact]
    public async Task Records_over_the_maximum_are_cut_with_the_terminator()
    {
        var flow = Flow(""","truncatedRecordTerminator":"...\n" """);
        var records = await TailAsync(flow, new string('x', 1024 * 1024 + 10) + "\nnext\n", 2);
        Assert.Equal(1024 * 1024, records[0].Length);
        Assert.EndsWith("x...\n", records[0], StringComparison.Ordinal);
        Assert.Equal("next\n", records[1]);
    }
}
