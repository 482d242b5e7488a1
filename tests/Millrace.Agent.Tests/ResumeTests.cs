using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Millrace.Agent.Checkpoints;
using Millrace.Agent.Files;
using Millrace.Agent.Sending;

namespace Millrace.Agent.Tests;

/// <summary>
/// Where a restarted flow reads on after rotations made while the agent was down: checkpoints follow the content
/// (a renamed file, copytruncate's copy), files no checkpoint describes are read whole, and nothing acknowledged is read again.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Log => Path.Combine(_dir, "app.log");

    private FlowConfiguration Flow() =>
        AgentConfiguration.Parse("""{"flows":[{"filePattern":"app.log*","kinesisStream":"s","initialPosition":"START_OF_FILE"}]}""", _dir).Flows[0];

    private static string Lines(int from, int to) =>
        string.Concat(Enumerable.Range(from, to - from + 1).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i:D8} line of the log\n")));

    /// <summary>Runs a tailer until <paramref name="count"/> records came (acknowledging the first <paramref name="acknowledge"/>), then a little longer to see nothing else comes.</summary>
    private async Task<List<int>> RunAsync(int count, int acknowledge)
    {
        using var store = CheckpointStore.Open(Path.Combine(_dir, "cp.db"));
        var writer = new CheckpointWriter(store, TimeProvider.System);
        var flow = Flow();
        var channel = Channel.CreateUnbounded<TailedRecord>();
        using var stop = new CancellationTokenSource();
        var tailer = new FlowTailer(flow, store, channel.Writer, TimeProvider.System);
        var running = tailer.RunAsync(stop.Token);
        var numbers = new List<int>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        async Task TakeAsync(TailedRecord r)
        {
            numbers.Add(int.Parse(Encoding.ASCII.GetString(r.Data, 0, 8), CultureInfo.InvariantCulture));
            if (numbers.Count <= acknowledge)
            {
                writer.Advance(flow.Id, r.Source, r.EndOffset);
            }

            await Task.CompletedTask;
        }

        while (numbers.Count < count)
        {
            await TakeAsync(await channel.Reader.ReadAsync(timeout.Token));
        }

        await Task.Delay(500);
        while (channel.Reader.TryRead(out var more))
        {
            await TakeAsync(more);
        }

        writer.Flush();
        await stop.CancelAsync();
        await running;
        return numbers;
    }

    [Fact]
    public async Task A_copytruncate_while_down_reads_the_copy_on_and_the_new_content_whole()
    {
        await File.WriteAllTextAsync(Log, Lines(1, 1000));
        Assert.Equal(Enumerable.Range(1, 1000), await RunAsync(1000, acknowledge: 600));

        // logrotate copytruncate with the agent down: the old content moves to a new inode, the old inode starts again.
        File.Copy(Log, Log + ".1");
        await File.WriteAllTextAsync(Log, Lines(2001, 2100));
        Assert.Equal([.. Enumerable.Range(601, 400), .. Enumerable.Range(2001, 100)], await RunAsync(500, acknowledge: 500));

        // Everything was acknowledged: nothing is read again.
        await File.AppendAllTextAsync(Log, Lines(2101, 2110));
        Assert.Equal(Enumerable.Range(2101, 10), await RunAsync(10, acknowledge: 10));
    }

    [Fact]
    public async Task Renames_while_down_keep_their_checkpoints_and_new_files_are_read_whole()
    {
        await File.WriteAllTextAsync(Log, Lines(1, 1000));
        Assert.Equal(Enumerable.Range(1, 1000), await RunAsync(1000, acknowledge: 300));

        // Two create rotations while down: app.log → .1 → .2, and a file that came and went into .1 unread.
        File.Move(Log, Log + ".1");
        await File.WriteAllTextAsync(Log, Lines(1001, 1200));
        File.Move(Log + ".1", Log + ".2");
        File.Move(Log, Log + ".1");
        await File.WriteAllTextAsync(Log, Lines(1201, 1250));
        var numbers = await RunAsync(950, acknowledge: 950);
        Assert.Equal([.. Enumerable.Range(301, 700), .. Enumerable.Range(1001, 200), .. Enumerable.Range(1201, 50)], numbers);
    }

    [Fact]
    public async Task The_first_start_leaves_older_files_as_history()
    {
        await File.WriteAllTextAsync(Log + ".1", Lines(1, 100));
        File.SetLastWriteTimeUtc(Log + ".1", DateTime.UtcNow.AddMinutes(-5));
        await File.WriteAllTextAsync(Log, Lines(101, 150));
        Assert.Equal(Enumerable.Range(101, 50), await RunAsync(50, acknowledge: 50));

        // At the next start the older file is still history, not a file that appeared while the agent was down.
        await File.AppendAllTextAsync(Log, Lines(151, 160));
        Assert.Equal(Enumerable.Range(151, 10), await RunAsync(10, acknowledge: 10));
    }
}
