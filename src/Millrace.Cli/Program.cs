using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Millrace.Server;
using Millrace.Server.Hosting;

namespace Millrace.Cli;

/// <summary>The `millrace` command line.</summary>
public static class Program
{
    public static Task<int> Main(string[] args)
    {
        var root = new RootCommand("Millrace: a self-hosted, wire-compatible Amazon Kinesis.");
        root.Subcommands.Add(ServeCommand());
        return root.Parse(args).InvokeAsync();
    }

    private static Command ServeCommand()
    {
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => 4567 };
        var dataDir = new Option<string>("--data-dir") { Description = "Where streams and records are stored.", DefaultValueFactory = _ => "./millrace-data" };
        var region = new Option<string>("--region") { Description = "Region used in ARNs.", DefaultValueFactory = _ => "us-east-1" };
        var account = new Option<string>("--account-id") { Description = "12-digit account id used in ARNs and messages.", DefaultValueFactory = _ => "000000000000" };
        var createDelay = new Option<int>("--create-stream-ms") { Description = "How long a new stream stays CREATING.", DefaultValueFactory = _ => 0 };
        var deleteDelay = new Option<int>("--delete-stream-ms") { Description = "How long a deleted stream stays DELETING.", DefaultValueFactory = _ => 0 };
        var updateDelay = new Option<int>("--update-stream-ms") { Description = "How long a resharded stream stays UPDATING.", DefaultValueFactory = _ => 0 };
        var shardLimit = new Option<int>("--shard-limit") { Description = "Open shards allowed per account (0: no limit).", DefaultValueFactory = _ => 500 };

        var serve = new Command("serve", "Run the Kinesis Data Streams server.")
        {
            host, port, dataDir, region, account, createDelay, deleteDelay, updateDelay, shardLimit,
        };
        serve.SetAction(async (parse, ct) =>
        {
            var options = new MillraceServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                Region = parse.GetValue(region)!,
                AccountId = parse.GetValue(account)!,
                CreateStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(createDelay)),
                DeleteStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(deleteDelay)),
                UpdateStreamDelay = TimeSpan.FromMilliseconds(parse.GetValue(updateDelay)),
                ShardLimit = parse.GetValue(shardLimit),
            };
            return await ServeAsync(options, ct);
        });
        return serve;
    }

    private static async Task<int> ServeAsync(MillraceServerOptions options, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // stop cleanly below instead of being torn down
            stop.Cancel();
        }

        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        await using var server = await MillraceHost.StartAsync(options, stop.Token);
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Millrace listening on {server.Endpoint.ToString().TrimEnd('/')} (data in {options.DataDirectory})"));
        Console.Out.WriteLine("Millrace ready");
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Console.Out.WriteLine("Millrace stopping: finishing requests and flushing");
        return 0;
    }
}
