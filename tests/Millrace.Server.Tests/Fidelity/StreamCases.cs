namespace Millrace.Server.Tests.Fidelity;

/// <summary>CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary, ListStreams.</summary>
public sealed class StreamCases : FidelityCaseFamily
{
    public override IEnumerable<FidelityCase> Cases()
    {
        // CreateStream: IA LE RIU VE
        yield return new("CreateStream.NoShardCountIsOnDemand", "DescribeStreamSummary")
        {
            Source = "4.3: CreateStream with no ShardCount (ON_DEMAND)",
            Setup = c => c.OkAsync("CreateStream", new { StreamName = c.Stream }),
            Request = c => new { StreamName = c.Stream },
            ExpectedType = null,
            Status = 200,
            Message = """.*"StreamStatus":"ACTIVE".*"StreamMode":"ON_DEMAND".*"OpenShardCount":4.*""",
        };
        yield return new("CreateStream.AlreadyExists", "CreateStream")
        {
            Source = "model: CreateStream RIU",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardCount = 1 },
            ExpectedType = "ResourceInUseException",
            Message = @"Stream {stream} under account {account} already exists\.",
        };
        yield return new("CreateStream.OnDemandWithShardCount", "CreateStream")
        {
            Source = "model: CreateStream IA",
            Request = c => new { StreamName = c.Stream, ShardCount = 2, StreamModeDetails = new { StreamMode = "ON_DEMAND" } },
            ExpectedType = "InvalidArgumentException",
            Message = @"ShardCount must not be specified for streams in ON_DEMAND mode\.",
        };
        yield return new("CreateStream.ProvisionedWithoutShardCount", "CreateStream")
        {
            Source = "model: CreateStream IA",
            Request = c => new { StreamName = c.Stream, StreamModeDetails = new { StreamMode = "PROVISIONED" } },
            ExpectedType = "InvalidArgumentException",
            Message = @"ShardCount is required for streams in PROVISIONED mode\.",
        };
        yield return new("CreateStream.ShardCountZero", "CreateStream")
        {
            Source = "model: CreateStream VE (ShardCount min 1)",
            Request = c => new { StreamName = c.Stream, ShardCount = 0 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("shardCount", "must have value greater than or equal to 1", "'0'"),
        };
        yield return new("CreateStream.BadName", "CreateStream")
        {
            Source = "model: CreateStream VE (StreamName pattern)",
            Request = _ => new { StreamName = "bad name!", ShardCount = 1 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("streamName", @"must satisfy regular expression pattern: \[a-zA-Z0-9_\.-\]\+", "'bad name!'"),
        };
        yield return new("CreateStream.MissingName", "CreateStream")
        {
            Source = "4.3: Missing required field",
            Request = _ => new { ShardCount = 1 },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("streamName"),
        };
        yield return new("CreateStream.NameTooLong", "CreateStream")
        {
            Source = "model: CreateStream VE (StreamName length 1-128)",
            Request = _ => new { StreamName = new string('a', 129), ShardCount = 1 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("streamName", "must have length less than or equal to 128"),
        };

        // DeleteStream: AD IA LE RIU RNF (AD needs IAM and RIU needs consumers or a CREATING stream: not here)
        yield return new("DeleteStream.NotFound", "DeleteStream")
        {
            Source = "model: DeleteStream RNF",
            Request = c => new { StreamName = c.Stream },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("DeleteStream.ByArnNotFound", "DeleteStream")
        {
            Source = "model: DeleteStream RNF (StreamARN)",
            Request = c => new { StreamARN = c.StreamArn },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("DeleteStream.NameAndArnDisagree", "DeleteStream")
        {
            Source = "model: DeleteStream IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, StreamARN = FidelityContext.ArnOf("other") },
            ExpectedType = "InvalidArgumentException",
            Message = @"StreamARN arn:aws:kinesis:{region}:{account}:stream/other does not match StreamName {stream}\.",
        };
        yield return new("DeleteStream.NeitherNameNorArn", "DeleteStream")
        {
            Source = "model: DeleteStream IA",
            Request = _ => new { },
            ExpectedType = "InvalidArgumentException",
            Message = @"Either StreamName or StreamARN must be provided\.",
        };

        // DescribeStream: AD IA LE RNF
        yield return new("DescribeStream.NotFound", "DescribeStream")
        {
            Source = "model: DescribeStream RNF",
            Request = c => new { StreamName = c.Stream },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("DescribeStream.LimitZero", "DescribeStream")
        {
            Source = "model: DescribeStream VE (Limit 1-10000)",
            Request = c => new { StreamName = c.Stream, Limit = 0 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("limit", "must have value greater than or equal to 1", "'0'"),
        };
        yield return new("DescribeStream.ArnOfAnotherAccount", "DescribeStream")
        {
            Source = "model: DescribeStream RNF (StreamARN)",
            Request = c => new { StreamARN = $"arn:aws:kinesis:us-east-1:111111111111:stream/{c.Stream}" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Stream {stream} under account 111111111111 not found\.",
        };

        // DescribeStreamSummary: AD IA LE RNF
        yield return new("DescribeStreamSummary.ByArn", "DescribeStreamSummary")
        {
            Source = "4.3: DescribeStreamSummary by StreamARN",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn },
            ExpectedType = null,
            Status = 200,
            Message = """.*"StreamName":"{stream}".*""",
        };
        yield return new("DescribeStreamSummary.NotFound", "DescribeStreamSummary")
        {
            Source = "model: DescribeStreamSummary RNF",
            Request = c => new { StreamName = c.Stream },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("DescribeStreamSummary.ArnNotAStream", "DescribeStreamSummary")
        {
            Source = "model: DescribeStreamSummary VE (StreamARN pattern)",
            Request = c => new { StreamARN = $"arn:aws:kinesis:us-east-1:000000000000:table/{c.Stream}" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("streamARN", "must satisfy regular expression pattern: .*"),
        };
        yield return new("DescribeStreamSummary.NameAndArnDisagree", "DescribeStreamSummary")
        {
            Source = "model: DescribeStreamSummary IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, StreamARN = FidelityContext.ArnOf("other") },
            ExpectedType = "InvalidArgumentException",
            Message = @"StreamARN arn:aws:kinesis:{region}:{account}:stream/other does not match StreamName {stream}\.",
        };

        // ListStreams: ENT IA LE
        yield return new("ListStreams.InvalidNextToken", "ListStreams")
        {
            Source = "model: ListStreams IA",
            Request = _ => new { NextToken = "bm90LWEtdG9rZW4=" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid NextToken\.",
        };
        yield return new("ListStreams.NextTokenWithExclusiveStart", "ListStreams")
        {
            Source = "model: ListStreams IA",
            Request = _ => new { NextToken = "bm90LWEtdG9rZW4=", ExclusiveStartStreamName = "a" },
            ExpectedType = "InvalidArgumentException",
            Message = @"NextToken and ExclusiveStartStreamName cannot be provided together\.",
        };
        yield return new("ListStreams.ExpiredNextToken", "ListStreams")
        {
            Source = "model: ListStreams ENT",
            Server = FidelityServer.ManualClock,
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.CreateStreamAsync(name: c.Stream + "-2");
                var page = await c.OkAsync("ListStreams", new { Limit = 1 });
                c.Values["token"] = page["NextToken"]!.GetValue<string>();
                c.Clock.Advance(TimeSpan.FromSeconds(301));
            },
            Request = c => new { NextToken = c.Values["token"] },
            ExpectedType = "ExpiredNextTokenException",
            Message = @"The timestamp on the NextToken has expired\.",
        };
        yield return new("ListStreams.LimitZero", "ListStreams")
        {
            Source = "model: ListStreams VE (Limit 1-10000)",
            Request = _ => new { Limit = 0 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("limit", "must have value greater than or equal to 1", "'0'"),
        };
    }
}
