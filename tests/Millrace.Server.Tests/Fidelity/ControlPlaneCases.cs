namespace Millrace.Server.Tests.Fidelity;

/// <summary>Retention, tags, stream settings, account settings and resource policies.</summary>
public sealed class ControlPlaneCases : FidelityCaseFamily
{
    public override IEnumerable<FidelityCase> Cases()
    {
        // IncreaseStreamRetentionPeriod / DecreaseStreamRetentionPeriod: AD IA LE RIU RNF
        yield return new("IncreaseStreamRetentionPeriod.To8760", "DescribeStreamSummary")
        {
            Source = "4.3: IncreaseStreamRetentionPeriod 8760 is OK",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("IncreaseStreamRetentionPeriod", new { StreamName = c.Stream, RetentionPeriodHours = 8760 });
            },
            Request = c => new { StreamName = c.Stream },
            ExpectedType = null,
            Status = 200,
            Message = @".*""RetentionPeriodHours"":8760.*",
        };
        yield return new("IncreaseStreamRetentionPeriod.Over8760", "IncreaseStreamRetentionPeriod")
        {
            Source = "4.3: 8761 gives IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, RetentionPeriodHours = 8761 },
            ExpectedType = "InvalidArgumentException",
            Message = @"Maximum allowed retention period is 8760 hours\. Requested retention period \(8761 hours\) is too long\.",
        };
        yield return new("IncreaseStreamRetentionPeriod.NotLonger", "IncreaseStreamRetentionPeriod")
        {
            Source = "model: IncreaseStreamRetentionPeriod IA (must be more than the current)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("IncreaseStreamRetentionPeriod", new { StreamName = c.Stream, RetentionPeriodHours = 48 });
            },
            Request = c => new { StreamName = c.Stream, RetentionPeriodHours = 30 },
            ExpectedType = "InvalidArgumentException",
            Message = @"Requested retention period \(30 hours\) for stream {stream} can not be shorter than existing retention period \(48 hours\)\..*",
        };
        yield return new("DecreaseStreamRetentionPeriod.Under24", "DecreaseStreamRetentionPeriod")
        {
            Source = "model: DecreaseStreamRetentionPeriod IA (at least 24)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, RetentionPeriodHours = 23 },
            ExpectedType = "InvalidArgumentException",
            Message = @"Minimum allowed retention period is 24 hours\. Requested retention period \(23 hours\) is too short\.",
        };
        yield return new("DecreaseStreamRetentionPeriod.StreamNotFound", "DecreaseStreamRetentionPeriod")
        {
            Source = "model: DecreaseStreamRetentionPeriod RNF",
            Request = c => new { StreamName = c.Stream, RetentionPeriodHours = 24 },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };

        // Tags: AddTagsToStream, RemoveTagsFromStream, ListTagsForStream, TagResource, UntagResource, ListTagsForResource
        yield return new("AddTagsToStream.TooMany", "AddTagsToStream")
        {
            Source = "model: AddTagsToStream IA (50 tags per stream)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("AddTagsToStream", new { StreamName = c.Stream, Tags = Enumerable.Range(0, 40).ToDictionary(i => $"k{i}", i => "v") });
            },
            Request = c => new { StreamName = c.Stream, Tags = Enumerable.Range(40, 11).ToDictionary(i => $"k{i}", i => "v") },
            ExpectedType = "InvalidArgumentException",
            Message = @"Failed to add tags to stream {stream} under account {account} because a given stream cannot have more than 50 tags associated with it\.",
        };
        yield return new("AddTagsToStream.ReservedPrefix", "AddTagsToStream")
        {
            Source = "docs: the aws: prefix is reserved",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Tags = new Dictionary<string, string> { ["aws:owner"] = "me" } },
            ExpectedType = "InvalidArgumentException",
            Message = @".*tag key prefix 'aws:' is reserved for AWS use\.",
        };
        yield return new("AddTagsToStream.StreamNotFound", "AddTagsToStream")
        {
            Source = "model: AddTagsToStream RNF",
            Request = c => new { StreamName = c.Stream, Tags = new Dictionary<string, string> { ["a"] = "b" } },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("ListTagsForStream.LimitOver50", "ListTagsForStream")
        {
            Source = "model: ListTagsForStream Limit 1-50",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Limit = 51 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("limit", "must have value less than or equal to 50", "'51'"),
        };
        yield return new("RemoveTagsFromStream.UnknownKeysIgnored", "ListTagsForStream")
        {
            Source = "reference: RemoveTagsFromStream ignores unknown keys",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("AddTagsToStream", new { StreamName = c.Stream, Tags = new Dictionary<string, string> { ["keep"] = "1" } });
                await c.OkAsync("RemoveTagsFromStream", new { StreamName = c.Stream, TagKeys = new[] { "nope" } });
            },
            Request = c => new { StreamName = c.Stream },
            ExpectedType = null,
            Status = 200,
            Message = @"\{""Tags"":\[\{""Key"":""keep"",""Value"":""1""\}\],""HasMoreTags"":false\}",
        };
        yield return new("TagResource.StreamNotFound", "TagResource")
        {
            Source = "model: TagResource RNF",
            Request = c => new { ResourceARN = c.StreamArn, Tags = new Dictionary<string, string> { ["a"] = "b" } },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };

        // Stream settings
        yield return new("EnableEnhancedMonitoring.All", "EnableEnhancedMonitoring")
        {
            Source = "reference: ALL expands to the seven metrics",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardLevelMetrics = new[] { "ALL" } },
            ExpectedType = null,
            Status = 200,
            Message = @".*""CurrentShardLevelMetrics"":\[\],""DesiredShardLevelMetrics"":\[(""\w+"",?){7}\].*",
        };
        yield return new("EnableEnhancedMonitoring.BadMetric", "EnableEnhancedMonitoring")
        {
            Source = "model: MetricsName enum",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardLevelMetrics = new[] { "Bytes" } },
            ExpectedType = "ValidationException",
            Message = ".*shardLevelMetrics.*",
        };
        yield return new("UpdateMaxRecordSize.TooLarge", "UpdateMaxRecordSize")
        {
            Source = "model: UpdateMaxRecordSize VE (1024-10240 KiB)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, MaxRecordSizeInKiB = 10241 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("maxRecordSizeInKiB", "must have value less than or equal to 10240", "'10241'"),
        };
        yield return new("UpdateStreamWarmThroughput.Provisioned", "UpdateStreamWarmThroughput")
        {
            Source = "model: UpdateStreamWarmThroughput IA (ON_DEMAND only)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, WarmThroughputMiBps = 100 },
            ExpectedType = "InvalidArgumentException",
            Message = @"Warm throughput is only supported for streams in ON_DEMAND mode\. Stream {stream} under account {account} is in PROVISIONED mode\.",
        };
        yield return new("UpdateStreamRecordDistributionStrategy.AutoOnProvisioned", "UpdateStreamRecordDistributionStrategy")
        {
            Source = "reference: AUTO on a provisioned stream gives IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, RecordDistributionStrategy = "AUTO" },
            ExpectedType = "InvalidArgumentException",
            Message = @"The AUTO record distribution strategy is only supported for streams in ON_DEMAND mode\..*",
        };
        yield return new("UpdateStreamMode.StreamNotFound", "UpdateStreamMode")
        {
            Source = "model: UpdateStreamMode RNF",
            Request = c => new { StreamARN = c.StreamArn, StreamModeDetails = new { StreamMode = "ON_DEMAND" } },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };

        // Account and policies
        yield return new("DescribeLimits.Shape", "DescribeLimits")
        {
            Source = "model: DescribeLimits output",
            Request = _ => new { },
            ExpectedType = null,
            Status = 200,
            Message = @"\{""ShardLimit"":\d+,""OpenShardCount"":\d+,""OnDemandStreamCount"":\d+,""OnDemandStreamCountLimit"":50\}",
        };
        yield return new("UpdateAccountSettings.BadStatus", "UpdateAccountSettings")
        {
            Source = "model: MinimumThroughputBillingCommitmentInputStatus enum",
            Request = _ => new { MinimumThroughputBillingCommitment = new { Status = "MAYBE" } },
            ExpectedType = "ValidationException",
            Message = ".*minimumThroughputBillingCommitment.status.*",
        };
        yield return new("PutResourcePolicy.NotJson", "PutResourcePolicy")
        {
            Source = "model: PutResourcePolicy IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { ResourceARN = c.StreamArn, Policy = "not a policy" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Policy is not a valid JSON document\.",
        };
        yield return new("GetResourcePolicy.StreamNotFound", "GetResourcePolicy")
        {
            Source = "model: GetResourcePolicy RNF",
            Request = c => new { ResourceARN = c.StreamArn },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
    }
}
