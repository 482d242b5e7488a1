using System.Reflection;
using System.Text;

namespace Millrace.Client.Tests;

/// <summary>Every operation of IKinesisClient (SubscribeToShard has its own tests) called through the client against a
/// real server, over HTTP/1.1 and HTTP/2, and AWS's errors as typed exceptions with AWS's statuses.</summary>
public sealed class AllOperationsTests(ClientServerFixture fixture) : IClassFixture<ClientServerFixture>
{
    private const string Policy = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:GetRecords","Resource":"*"}]}""";

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Every_operation_works_over_http_version(string httpVersion)
    {
        using var client = fixture.NewClient(Version.Parse(httpVersion));
        var called = new HashSet<string>(StringComparer.Ordinal);
        async Task<T> Call<T>(Task<T> call, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(call))] string expression = "")
            where T : KinesisResponse
        {
            var response = await call;
            Assert.Equal(200, response.HttpStatusCode);
            Assert.NotNull(response.RequestId);
            called.Add(expression[(expression.IndexOf('.', StringComparison.Ordinal) + 1)..expression.IndexOf("Async(", StringComparison.Ordinal)]);
            return response;
        }

        var limits = await Call(client.DescribeLimitsAsync(new DescribeLimitsRequest()));
        Assert.NotNull(limits.ShardLimit);
        var account = await Call(client.UpdateAccountSettingsAsync(new UpdateAccountSettingsRequest
        {
            MinimumThroughputBillingCommitment = new MinimumThroughputBillingCommitmentInput { Status = MinimumThroughputBillingCommitmentInputStatus.ENABLED },
        }));
        Assert.Equal("ENABLED", account.MinimumThroughputBillingCommitment!.Status);
        Assert.Equal("ENABLED", (await Call(client.DescribeAccountSettingsAsync(new DescribeAccountSettingsRequest()))).MinimumThroughputBillingCommitment!.Status);

        var name = ClientServerFixture.UniqueName("ops");
        await Call(client.CreateStreamAsync(new CreateStreamRequest { StreamName = name, ShardCount = 2, Tags = new() { ["team"] = "a" } }));
        var description = (await Call(client.DescribeStreamAsync(new DescribeStreamRequest { StreamName = name }))).StreamDescription!;
        var arn = description.StreamARN!;
        Assert.Equal(2, description.Shards!.Count);
        Assert.Equal(24, (await Call(client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamARN = arn }))).StreamDescriptionSummary!.RetentionPeriodHours);
        Assert.Contains(name, (await Call(client.ListStreamsAsync(new ListStreamsRequest { Limit = 10_000 }))).StreamNames!);
        var shards = (await Call(client.ListShardsAsync(new ListShardsRequest { StreamName = name }))).Shards!;

        // Tags, both ways of naming the stream.
        await Call(client.AddTagsToStreamAsync(new AddTagsToStreamRequest { StreamName = name, Tags = new() { ["env"] = "test" } }));
        Assert.Equal(["env", "team"], (await Call(client.ListTagsForStreamAsync(new ListTagsForStreamRequest { StreamName = name }))).Tags!.Select(t => t.Key).Order());
        await Call(client.RemoveTagsFromStreamAsync(new RemoveTagsFromStreamRequest { StreamName = name, TagKeys = ["env"] }));
        await Call(client.TagResourceAsync(new TagResourceRequest { ResourceARN = arn, Tags = new() { ["owner"] = "me" } }));
        Assert.Equal(["owner", "team"], (await Call(client.ListTagsForResourceAsync(new ListTagsForResourceRequest { ResourceARN = arn }))).Tags!.Select(t => t.Key).Order());
        await Call(client.UntagResourceAsync(new UntagResourceRequest { ResourceARN = arn, TagKeys = ["owner"] }));

        // Settings.
        await Call(client.IncreaseStreamRetentionPeriodAsync(new IncreaseStreamRetentionPeriodRequest { StreamName = name, RetentionPeriodHours = 48 }));
        await Call(client.DecreaseStreamRetentionPeriodAsync(new DecreaseStreamRetentionPeriodRequest { StreamName = name, RetentionPeriodHours = 24 }));
        var monitoring = await Call(client.EnableEnhancedMonitoringAsync(new EnableEnhancedMonitoringRequest { StreamName = name, ShardLevelMetrics = ["IncomingBytes"] }));
        Assert.Equal(["IncomingBytes"], monitoring.DesiredShardLevelMetrics!);
        await Call(client.DisableEnhancedMonitoringAsync(new DisableEnhancedMonitoringRequest { StreamName = name, ShardLevelMetrics = ["ALL"] }));
        await Call(client.UpdateMaxRecordSizeAsync(new UpdateMaxRecordSizeRequest { StreamARN = arn, MaxRecordSizeInKiB = 2048 }));
        await Call(client.StartStreamEncryptionAsync(new StartStreamEncryptionRequest { StreamName = name, EncryptionType = EncryptionType.KMS, KeyId = "alias/aws/kinesis" }));

        // Data, encrypted at rest and back.
        var put = await Call(client.PutRecordAsync(new PutRecordRequest { StreamName = name, PartitionKey = "p", Data = "one"u8.ToArray() }));
        Assert.Equal(EncryptionType.KMS, put.EncryptionType);
        var batch = await Call(client.PutRecordsAsync(new PutRecordsRequest
        {
            StreamARN = arn, Records = [new() { PartitionKey = "p", Data = "two"u8.ToArray() }, new() { PartitionKey = "p", Data = "three"u8.ToArray() }],
        }));
        Assert.Equal(0, batch.FailedRecordCount);
        var iterator = await Call(client.GetShardIteratorAsync(new GetShardIteratorRequest
        {
            StreamName = name, ShardId = put.ShardId, ShardIteratorType = ShardIteratorType.AT_SEQUENCE_NUMBER, StartingSequenceNumber = put.SequenceNumber,
        }));
        var records = await Call(client.GetRecordsAsync(new GetRecordsRequest { ShardIterator = iterator.ShardIterator, StreamARN = arn }));
        Assert.Equal(["one", "two", "three"], records.Records!.Select(r => Encoding.UTF8.GetString(r.Data!)));
        await Call(client.StopStreamEncryptionAsync(new StopStreamEncryptionRequest { StreamName = name, EncryptionType = EncryptionType.KMS, KeyId = "alias/aws/kinesis" }));

        // Resource policy.
        await Call(client.PutResourcePolicyAsync(new PutResourcePolicyRequest { ResourceARN = arn, Policy = Policy }));
        Assert.Contains("kinesis:GetRecords", (await Call(client.GetResourcePolicyAsync(new GetResourcePolicyRequest { ResourceARN = arn }))).Policy, StringComparison.Ordinal);
        await Call(client.DeleteResourcePolicyAsync(new DeleteResourcePolicyRequest { ResourceARN = arn }));

        // Consumers.
        var consumer = (await Call(client.RegisterStreamConsumerAsync(new RegisterStreamConsumerRequest { StreamARN = arn, ConsumerName = "app" }))).Consumer!;
        Assert.Equal("app", (await Call(client.DescribeStreamConsumerAsync(new DescribeStreamConsumerRequest { ConsumerARN = consumer.ConsumerARN }))).ConsumerDescription!.ConsumerName);
        Assert.Single((await Call(client.ListStreamConsumersAsync(new ListStreamConsumersRequest { StreamARN = arn }))).Consumers!);
        await Call(client.DeregisterStreamConsumerAsync(new DeregisterStreamConsumerRequest { ConsumerARN = consumer.ConsumerARN }));

        // Resharding: split, merge the children back, scale.
        await Call(client.SplitShardAsync(new SplitShardRequest
        {
            StreamName = name, ShardToSplit = shards[0].ShardId, NewStartingHashKey = "85070591730234615865843651857942052864",
        }));
        var children = (await client.ListShardsAsync(new ListShardsRequest { StreamName = name })).Shards!
            .Where(s => s.ParentShardId == shards[0].ShardId).OrderBy(s => System.Numerics.BigInteger.Parse(s.HashKeyRange!.StartingHashKey!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(2, children.Count);
        await Call(client.MergeShardsAsync(new MergeShardsRequest { StreamName = name, ShardToMerge = children[0].ShardId, AdjacentShardToMerge = children[1].ShardId }));
        var scaled = await Call(client.UpdateShardCountAsync(new UpdateShardCountRequest { StreamName = name, TargetShardCount = 4, ScalingType = ScalingType.UNIFORM_SCALING }));
        Assert.Equal(4, scaled.TargetShardCount);

        // On-demand: mode, distribution strategy, warm throughput.
        await Call(client.UpdateStreamModeAsync(new UpdateStreamModeRequest { StreamARN = arn, StreamModeDetails = new StreamModeDetails { StreamMode = StreamMode.ON_DEMAND } }));
        await Call(client.UpdateStreamRecordDistributionStrategyAsync(new UpdateStreamRecordDistributionStrategyRequest
        {
            StreamARN = arn, RecordDistributionStrategy = RecordDistributionStrategy.AUTO,
        }));
        var warm = await Call(client.UpdateStreamWarmThroughputAsync(new UpdateStreamWarmThroughputRequest { StreamARN = arn, WarmThroughputMiBps = 100 }));
        Assert.Equal(100, warm.WarmThroughput!.TargetMiBps);

        await Call(client.DeleteStreamAsync(new DeleteStreamRequest { StreamName = name, EnforceConsumerDeletion = true }));
        await Assert.ThrowsAsync<ResourceNotFoundException>(() => client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = name }));

        var all = typeof(IKinesisClient).GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Select(m => m.Name[..^"Async".Length]).Where(n => n != "SubscribeToShard").ToHashSet();
        Assert.Equal(39, all.Count);
        Assert.Empty(all.Except(called));
    }

    [Fact]
    public async Task Errors_are_the_typed_aws_exceptions_with_aws_statuses()
    {
        using var client = fixture.NewClient(System.Net.HttpVersion.Version20);
        var name = ClientServerFixture.UniqueName("errors");
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = name, ShardCount = 1 });

        var inUse = await Assert.ThrowsAsync<ResourceInUseException>(() => client.CreateStreamAsync(new CreateStreamRequest { StreamName = name, ShardCount = 1 }));
        Assert.Equal(400, inUse.StatusCode);
        var notFound = await Assert.ThrowsAsync<ResourceNotFoundException>(() => client.ListShardsAsync(new ListShardsRequest { StreamName = name + "-missing" }));
        Assert.Equal(400, notFound.StatusCode);
        var invalid = await Assert.ThrowsAsync<InvalidArgumentException>(() => client.DecreaseStreamRetentionPeriodAsync(new DecreaseStreamRetentionPeriodRequest
        {
            StreamName = name, RetentionPeriodHours = 48,
        }));
        Assert.Equal(400, invalid.StatusCode);
        var validation = await Assert.ThrowsAsync<ValidationException>(() => client.PutRecordAsync(new PutRecordRequest { StreamName = name, Data = [1] }));
        Assert.Equal(400, validation.StatusCode);
        Assert.Contains("partitionKey", validation.Message, StringComparison.OrdinalIgnoreCase);
        var expired = await Assert.ThrowsAnyAsync<KinesisServiceException>(() => client.GetRecordsAsync(new GetRecordsRequest { ShardIterator = "bm90LWFuLWl0ZXJhdG9y" }));
        Assert.Equal(400, expired.StatusCode);
        Assert.False(expired.IsRetryable);
        Assert.All(new KinesisServiceException[] { inUse, notFound, invalid, validation, expired }, e => Assert.NotNull(e.RequestId));
    }
}
