using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Millrace.Agent.Checkpoints;
using Millrace.Agent.Files;
using Millrace.Agent.Sending;
using Millrace.Client;
using Millrace.Client.Auth;

namespace Millrace.Agent;

/// <summary>
/// A running agent: one tailer and one sender per flow, the checkpoint writer and a status line every
/// log.statusReportingPeriodSeconds. <see cref="RunAsync"/> returns when <c>stop</c> fires: reading stops, what was
/// read is sent (within shutdownTimeoutMillis), checkpoints are written.
/// </summary>
public sealed class AgentHost
{
    private readonly AgentConfiguration _config;
    private readonly TextWriter _log;
    private readonly TimeProvider _clock;

    public AgentHost(AgentConfiguration config, TextWriter log, TimeProvider? clock = null)
    {
        _config = config;
        _log = log;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>Records and lines sent so far, over all flows (for status and benchmarks).</summary>
    public long RecordsSent => _flows.Sum(f => Interlocked.Read(ref f.Sender.Counters.RecordsSent));

    private readonly List<Flow> _flows = [];

    private sealed record Flow(FlowConfiguration Config, FlowTailer Tailer, FlowSender Sender, Channel<TailedRecord> Channel, IRecordDestination Destination);

    public async Task RunAsync(CancellationToken stop)
    {
        using var store = CheckpointStore.Open(_config.CheckpointFile);
        var writer = new CheckpointWriter(store, _clock);
        foreach (var flow in _config.Flows)
        {
            // Bounded: publishQueueCapacity buffers of records may wait; beyond that the tailer waits.
            var channel = Channel.CreateBounded<TailedRecord>(new BoundedChannelOptions(Math.Max(1, flow.PublishQueueCapacity * flow.MaxBufferSizeRecords))
            {
                SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
            });
            var destination = CreateDestination(flow);
            _flows.Add(new Flow(flow, new FlowTailer(flow, store, channel.Writer, _clock, Log),
                new FlowSender(flow, destination, writer, channel.Reader, _clock, Log), channel, destination));
        }

        // Each flow touches the checkpoints of the files still on disk as it starts; what is left untouched can expire.
        foreach (var f in _flows)
        {
            f.Tailer.Start();
        }

        store.Expire(_config.CheckpointTimeToLiveDays, _clock.GetUtcNow().ToUnixTimeMilliseconds());
        using var abort = new CancellationTokenSource();
        using var checkpointing = new CancellationTokenSource();
        var checkpointTask = writer.RunAsync(checkpointing.Token);
        var senders = _flows.Select(f => f.Sender.RunAsync(abort.Token)).ToList();
        var tailers = _flows.Select(f => f.Tailer.RunAsync(stop)).ToList();
        var status = ReportAsync(stop);
        Log($"started {_flows.Count} flow(s): {string.Join(", ", _flows.Select(f => f.Config.Id))}; checkpoints in {_config.CheckpointFile}");

        await Task.WhenAll(tailers);
        foreach (var f in _flows)
        {
            f.Channel.Writer.TryComplete();
        }

        // Shutdown: send what was read, for at most shutdownTimeoutMillis; what is left is read again next start.
        var drained = Task.WhenAll(senders);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromMilliseconds(_config.ShutdownTimeoutMillis), _clock)) != drained)
        {
            Log($"shutdown: records still unsent after {_config.ShutdownTimeoutMillis} ms; they are read again at the next start");
            await abort.CancelAsync();
        }

        await drained;
        await checkpointing.CancelAsync();
        await checkpointTask;
        await status;
        foreach (var f in _flows)
        {
            foreach (var file in f.Tailer.Files)
            {
                file.Dispose();
            }

            f.Destination.Dispose();
        }

        Log($"stopped; {RecordsSent.ToString(CultureInfo.InvariantCulture)} records sent");
    }

    private IRecordDestination CreateDestination(FlowConfiguration flow)
    {
        // Unset endpoints follow the SDKs' variables (AWS_ENDPOINT_URL_KINESIS / _FIREHOSE, then AWS_ENDPOINT_URL).
        var endpoint = flow.Kind == DestinationKind.KinesisStream
            ? _config.KinesisEndpoint ?? Variable("AWS_ENDPOINT_URL_KINESIS") ?? Variable("AWS_ENDPOINT_URL")
            : _config.FirehoseEndpoint ?? Variable("AWS_ENDPOINT_URL_FIREHOSE") ?? Variable("AWS_ENDPOINT_URL");
        var options = new AwsClientOptions
        {
            Region = _config.KinesisRegion ?? RegionOf(endpoint),
            ServiceUrl = endpoint is null ? null : new Uri(endpoint),
            Credentials = _config.AccessKeyId is not null
                ? new StaticCredentialsProvider(new AwsCredentials(_config.AccessKeyId, _config.SecretAccessKey!, _config.SessionToken))
                : null,
            MaxConnections = _config.MaxConnections,
        };
        if (flow.Kind == DestinationKind.KinesisStream)
        {
            return new KinesisDestination(new KinesisClient(options), flow.Destination, flow.DeterministicPartitionKey, flow.KplAggregation);
        }

        var transport = new AwsJsonTransport(options, "firehose", "Firehose_20150804", "1.1",
            (code, message, status, requestId) => new AwsServiceException(code, message, status, requestId));
        return new FirehoseDestination(transport, flow.Destination, flow.AggregatedRecordSizeBytes);
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    /// <summary>The region in an AWS endpoint name (kinesis.eu-west-1.amazonaws.com), as the AWS agent infers it.</summary>
    private static string? RegionOf(string? endpoint)
    {
        if (endpoint is null || !Uri.TryCreate(endpoint, UriKind.Absolute, out var uri))
        {
            return null;
        }

        var parts = uri.Host.Split('.');
        return parts.Length >= 4 && parts[^2] == "amazonaws" ? parts[1] : null;
    }

    private async Task ReportAsync(CancellationToken stop)
    {
        var started = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(_config.StatusReportingPeriodSeconds), _clock, stop);
                foreach (var f in _flows)
                {
                    var t = f.Tailer.Counters;
                    var s = f.Sender.Counters;
                    Log(string.Create(CultureInfo.InvariantCulture,
                        $"{f.Config.Id}: {t.RecordsParsed} records parsed, {s.RecordsSent} sent ({s.BytesSent} bytes), {s.RecordSendErrors} send errors, {s.ServiceErrors} service errors, {t.RecordsTruncated} truncated, {t.Rotations} rotations, {f.Tailer.Files.Count} files open, {started.Elapsed.TotalSeconds:F0} s"));
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private void Log(string message)
    {
        lock (_log)
        {
            _log.WriteLine($"{_clock.GetUtcNow():yyyy-MM-dd HH:mm:ss.fff} millrace agent: {message}");
            _log.Flush();
        }
    }
}
