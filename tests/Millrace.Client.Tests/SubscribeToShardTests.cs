using System.Text;

namespace Millrace.Client.Tests;

/// <summary>Enhanced fan-out through the client against a real server: the HTTP/2 event stream end to end.</summary>
public sealed class SubscribeToShardTests(ClientServerFixture fixture) : IClassFixture<ClientServerFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private async Task<(string Stream, string ConsumerArn, string ShardId)> StreamWithConsumerAsync(KinesisClient client, int shards = 1)
    {
        var stream = ClientServerFixture.UniqueName("efo");
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = shards });
        var summary = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = stream });
        var consumer = await client.RegisterStreamConsumerAsync(new RegisterStreamConsumerRequest
        {
            StreamARN = summary.StreamDescriptionSummary!.StreamARN, ConsumerName = "c1",
        });
        var listed = await client.ListShardsAsync(new ListShardsRequest { StreamName = stream });
        return (stream, consumer.Consumer!.ConsumerARN!, listed.Shards![0].ShardId!);
    }

    private static SubscribeToShardRequest Subscribe(string consumerArn, string shardId, string type = "LATEST") => new()
    {
        ConsumerARN = consumerArn, ShardId = shardId, StartingPosition = new StartingPosition { Type = type },
    };

    [Fact]
    public async Task Records_put_after_subscribing_arrive_as_events_even_when_the_client_is_set_to_http11()
    {
        using var client = fixture.NewClient(System.Net.HttpVersion.Version11);
        var (stream, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var bound = new CancellationTokenSource(Bound);

        await using var subscription = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
        Assert.Equal(200, subscription.HttpStatusCode);
        Assert.Equal(System.Net.HttpVersion.Version20, subscription.ProtocolVersion);
        Assert.NotNull(subscription.RequestId);

        var sent = Enumerable.Range(0, 5).Select(i => "record-" + i).ToList();
        await client.PutRecordsAsync(new PutRecordsRequest
        {
            StreamName = stream,
            Records = [.. sent.Select(s => new PutRecordsRequestEntry { PartitionKey = s, Data = Encoding.UTF8.GetBytes(s) })],
        }, bound.Token);

        var received = new List<Record>();
        string? lastContinuation = null;
        await foreach (var e in subscription.Events.WithCancellation(bound.Token))
        {
            Assert.NotNull(e.Records);
            Assert.True(e.MillisBehindLatest >= 0);
            Assert.Null(e.ChildShards);
            lastContinuation = e.ContinuationSequenceNumber;
            received.AddRange(e.Records);
            if (received.Count >= sent.Count)
                break;
        }

        Assert.Equal(sent, received.Select(r => Encoding.UTF8.GetString(r.Data!)));
        Assert.Equal(sent, received.Select(r => r.PartitionKey));
        Assert.All(received, r => Assert.InRange(r.ApproximateArrivalTimestamp!.Value, DateTime.UtcNow.AddMinutes(-5), DateTime.UtcNow.AddMinutes(1)));
        Assert.Equal(received[^1].SequenceNumber, lastContinuation);
    }

    [Fact]
    public async Task A_second_subscription_to_the_same_shard_gets_ResourceInUseException_from_the_enumeration()
    {
        using var client = fixture.NewClient();
        var (_, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var bound = new CancellationTokenSource(Bound);

        await using var first = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
        await using var second = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
        var e = await Assert.ThrowsAsync<ResourceInUseException>(async () =>
        {
            await foreach (var _ in second.Events.WithCancellation(bound.Token))
            {
            }
        });
        Assert.Equal("ResourceInUseException", e.ErrorCode);
        Assert.Equal(400, e.StatusCode);
        Assert.Contains(consumerArn, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_end_of_a_split_shard_names_its_children_and_ends_the_enumeration()
    {
        using var client = fixture.NewClient();
        var (stream, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var bound = new CancellationTokenSource(Bound);
        await client.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = "before"u8.ToArray() }, bound.Token);

        await using var subscription = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId, ShardIteratorType.TRIM_HORIZON), bound.Token);
        await client.SplitShardAsync(new SplitShardRequest
        {
            StreamName = stream, ShardToSplit = shardId, NewStartingHashKey = "170141183460469231731687303715884105728",
        }, bound.Token);

        var data = new List<string>();
        List<ChildShard>? children = null;
        await foreach (var e in subscription.Events.WithCancellation(bound.Token))
        {
            data.AddRange(e.Records!.Select(r => Encoding.UTF8.GetString(r.Data!)));
            if (e.ChildShards is { Count: > 0 })
            {
                Assert.Null(children); // only the last event names them
                children = e.ChildShards;
            }
        }

        Assert.Equal(["before"], data);
        Assert.NotNull(children);
        Assert.Equal(2, children.Count);
        Assert.All(children, c => Assert.Equal([shardId], c.ParentShards!));
        Assert.All(children, c => Assert.NotNull(c.HashKeyRange?.StartingHashKey));
    }

    [Fact]
    public async Task Cancelling_the_enumeration_aborts_the_stream_and_frees_the_shard_for_a_new_subscription()
    {
        using var client = fixture.NewClient();
        var (stream, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var bound = new CancellationTokenSource(Bound);

        var subscription = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
        using var cancel = new CancellationTokenSource();
        var reading = Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in subscription.Events.WithCancellation(cancel.Token))
            {
                if (e.Records!.Count > 0)
                    await cancel.CancelAsync(); // cancelled while waiting for the next event
            }
        });
        await client.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = "x"u8.ToArray() }, bound.Token);
        await reading;
        subscription.Dispose();

        // The server frees the slot when the stream is reset; well within its 5-second takeover rule, a new
        // subscription is accepted (bounded: a few tries while the reset travels).
        for (var attempt = 0; ; attempt++)
        {
            await using var again = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
            await client.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = "y"u8.ToArray() }, bound.Token);
            try
            {
                await foreach (var e in again.Events.WithCancellation(bound.Token))
                {
                    if (e.Records!.Count > 0)
                    {
                        Assert.Equal("y", Encoding.UTF8.GetString(e.Records[0].Data!));
                        return;
                    }
                }
            }
            catch (ResourceInUseException) when (attempt < 5)
            {
                await Task.Delay(200, bound.Token);
            }
        }
    }

    [Fact]
    public async Task Disposing_while_waiting_for_an_event_ends_the_enumeration_with_ObjectDisposedException()
    {
        using var client = fixture.NewClient();
        var (_, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var bound = new CancellationTokenSource(Bound);
        var subscription = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), bound.Token);
        await using var events = subscription.Events.GetAsyncEnumerator(bound.Token);
        var next = events.MoveNextAsync().AsTask();
        await subscription.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => next);
    }

    [Fact]
    public async Task The_token_of_the_call_cancels_the_subscription()
    {
        using var client = fixture.NewClient();
        var (_, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        using var cancel = new CancellationTokenSource(Bound);
        await using var subscription = await client.SubscribeToShardAsync(Subscribe(consumerArn, shardId), cancel.Token);
        await using var events = subscription.Events.GetAsyncEnumerator();
        var next = events.MoveNextAsync().AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
    }

    [Fact]
    public async Task An_unknown_consumer_fails_the_call_with_ResourceNotFoundException()
    {
        using var client = fixture.NewClient();
        var (_, consumerArn, shardId) = await StreamWithConsumerAsync(client);
        var e = await Assert.ThrowsAsync<ResourceNotFoundException>(() =>
            client.SubscribeToShardAsync(Subscribe(consumerArn.Replace("consumer/c1:", "consumer/nobody:", StringComparison.Ordinal), shardId)));
        Assert.Equal(400, e.StatusCode);
    }
}
