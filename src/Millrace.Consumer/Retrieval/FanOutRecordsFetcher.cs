using Millrace.Client;

namespace Millrace.Consumer.Retrieval;

/// <summary>Enhanced fan-out: SubscribeToShard for the application's registered stream consumer, resubscribing after
/// the continuation sequence number whenever a subscription ends (every 5 minutes, or on an error).</summary>
internal sealed class FanOutRecordsFetcher(KinesisClient kinesis, string consumerArn, string shardId, StartPosition start, ConsumerConfig config)
    : IRecordsFetcher
{
    private SubscribeToShardResponse? _subscription;
    private IAsyncEnumerator<SubscribeToShardEvent>? _events;
    private string? _continuation;

    /// <summary>Registers the consumer (or finds it registered) and waits until it is ACTIVE; returns its ARN.</summary>
    public static async Task<string> RegisterConsumerAsync(KinesisClient kinesis, ConsumerConfig config, CancellationToken cancellationToken)
    {
        var name = config.ConsumerName ?? config.ApplicationName;
        var summary = await kinesis.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = config.StreamName }, cancellationToken).ConfigureAwait(false);
        var streamArn = summary.StreamDescriptionSummary!.StreamARN!;
        try
        {
            await kinesis.RegisterStreamConsumerAsync(new RegisterStreamConsumerRequest { StreamARN = streamArn, ConsumerName = name }, cancellationToken).ConfigureAwait(false);
        }
        catch (ResourceInUseException)
        {
            // Registered already (by another worker of the application).
        }
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var described = await kinesis.DescribeStreamConsumerAsync(new DescribeStreamConsumerRequest { StreamARN = streamArn, ConsumerName = name }, cancellationToken).ConfigureAwait(false);
            var consumer = described.ConsumerDescription!;
            if (consumer.ConsumerStatus == ConsumerStatus.ACTIVE)
                return consumer.ConsumerARN!;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"stream consumer {name} is still {consumer.ConsumerStatus}");
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<RecordsBatch> GetNextAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_events is null)
                await SubscribeAsync(cancellationToken).ConfigureAwait(false);
            bool more;
            try
            {
                more = await _events!.MoveNextAsync().ConfigureAwait(false);
            }
            catch (ResourceInUseException)
            {
                // A subscription of this shard from a previous owner is still open; AWS lets a new one take over after 5 s.
                await CloseAsync().ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch
            {
                await CloseAsync().ConfigureAwait(false);
                throw;
            }
            if (!more)
            {
                await CloseAsync().ConfigureAwait(false);
                continue;
            }
            var e = _events.Current;
            if (e.ContinuationSequenceNumber is { } continuation)
                _continuation = continuation;
            var end = e.ContinuationSequenceNumber is null && e.ChildShards is not null;
            return new RecordsBatch(e.Records ?? [], e.MillisBehindLatest, e.ChildShards, end);
        }
    }

    private async Task SubscribeAsync(CancellationToken cancellationToken)
    {
        var position = _continuation is not null
            ? new StartingPosition { Type = ShardIteratorType.AFTER_SEQUENCE_NUMBER, SequenceNumber = _continuation }
            : new StartingPosition { Type = start.Type, SequenceNumber = start.SequenceNumber, Timestamp = start.Timestamp };
        _subscription = await kinesis.SubscribeToShardAsync(new SubscribeToShardRequest
        {
            ConsumerARN = consumerArn,
            ShardId = shardId,
            StartingPosition = position,
        }, cancellationToken).ConfigureAwait(false);
        _events = _subscription.Events.GetAsyncEnumerator(cancellationToken);
        config.Log?.Invoke($"subscribed to {shardId} at {position.Type} {position.SequenceNumber}");
    }

    private async Task CloseAsync()
    {
        if (_events is not null)
        {
            try
            {
                await _events.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The stream is being abandoned anyway.
            }
            _events = null;
        }
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync().ConfigureAwait(false);
            _subscription = null;
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());
}
