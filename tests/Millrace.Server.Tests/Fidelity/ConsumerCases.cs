namespace Millrace.Server.Tests.Fidelity;

/// <summary>RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer, the
/// DeleteStream consumer rule, and tags and policies by consumer ARN.</summary>
public sealed class ConsumerCases : FidelityCaseFamily
{
    private const string ConsumerNotFound = @"Consumer {consumer} under stream {stream} under account {account} not found\.";

    public override IEnumerable<FidelityCase> Cases()
    {
        // RegisterStreamConsumer: IA LE RIU RNF
        yield return new("RegisterStreamConsumer.Registers", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumerOutput.Consumer",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = null,
            Status = 200,
            Message = """\{"Consumer":\{"ConsumerName":"app","ConsumerARN":"arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/app:\d+","ConsumerStatus":"ACTIVE","ConsumerCreationTimestamp":\d+(\.\d+)?\}\}""",
        };
        yield return new("RegisterStreamConsumer.AlreadyExists", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer RIU (consumer names are unique per stream)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = "ResourceInUseException",
            Message = @"Consumer app under stream {stream} under account {account} already exists\.",
        };
        yield return new("RegisterStreamConsumer.StreamNotFound", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer RNF",
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("RegisterStreamConsumer.TwentyOneConsumers", "RegisterStreamConsumer")
        {
            Source = "docs: RegisterStreamConsumer, up to 20 consumers per stream (LE)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                for (int i = 0; i < 20; i++)
                {
                    await RegisterAsync(c, $"app{i}");
                }
            },
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "one-too-many" },
            ExpectedType = "LimitExceededException",
            Message = @"Stream {stream} under account {account} already has the maximum of 20 registered consumers\.",
        };
        yield return new("RegisterStreamConsumer.BadName", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer VE (ConsumerName pattern)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "bad name" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("consumerName", @"must satisfy regular expression pattern: \[a-zA-Z0-9_\.-\]\+", "'bad name'"),
        };
        yield return new("RegisterStreamConsumer.NameTooLong", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer VE (ConsumerName length 1-128)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = new string('c', 129) },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("consumerName", "must have length less than or equal to 128"),
        };
        yield return new("RegisterStreamConsumer.MissingStreamArn", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer VE (StreamARN required)",
            Request = _ => new { ConsumerName = "app" },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("streamARN"),
        };
        yield return new("RegisterStreamConsumer.ReservedTagKey", "RegisterStreamConsumer")
        {
            Source = "model: RegisterStreamConsumer IA (tags as TagResource checks them)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app", Tags = new Dictionary<string, string> { ["aws:x"] = "1" } },
            ExpectedType = "InvalidArgumentException",
            Message = @"Failed to add tags to stream {stream} under account {account} because the tag key prefix 'aws:' is reserved for AWS use\.",
        };

        // DescribeStreamConsumer: IA LE RNF
        yield return new("DescribeStreamConsumer.ByName", "DescribeStreamConsumer")
        {
            Source = "model: DescribeStreamConsumerOutput.ConsumerDescription",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = null,
            Status = 200,
            Message = """\{"ConsumerDescription":\{"ConsumerName":"app","ConsumerARN":"arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/app:\d+","ConsumerStatus":"ACTIVE","ConsumerCreationTimestamp":[\d.]+,"StreamARN":"arn:aws:kinesis:{region}:{account}:stream/{stream}"\}\}""",
        };
        yield return new("DescribeStreamConsumer.NameNotFound", "DescribeStreamConsumer")
        {
            Source = "model: DescribeStreamConsumer RNF",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "nobody" },
            ExpectedType = "ResourceNotFoundException",
            Message = ConsumerNotFound.Replace("{consumer}", "nobody", StringComparison.Ordinal),
        };
        yield return new("DescribeStreamConsumer.ArnNotFound", "DescribeStreamConsumer")
        {
            Source = "model: DescribeStreamConsumer RNF (ConsumerARN)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { ConsumerARN = c.StreamArn + "/consumer/nobody:1700000000" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Consumer arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/nobody:1700000000 under account {account} not found\.",
        };
        yield return new("DescribeStreamConsumer.StaleArnOfAReRegisteredName", "DescribeStreamConsumer")
        {
            Source = "model: Consumer.ConsumerARN (a consumer registered again gets a new ARN; the old one names nothing)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                var arn = await RegisterAsync(c, "app");
                c.Values["stale"] = arn[..arn.LastIndexOf(':')] + ":1";
            },
            Request = c => new { ConsumerARN = c.Values["stale"] },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Consumer arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/app:1 under account {account} not found\.",
        };
        yield return new("DescribeStreamConsumer.NeitherArnNorName", "DescribeStreamConsumer")
        {
            Source = "model: DescribeStreamConsumer IA",
            Request = c => new { StreamARN = c.StreamArn },
            ExpectedType = "InvalidArgumentException",
            Message = @"Either ConsumerARN or both ConsumerName and StreamARN must be provided\.",
        };
        yield return new("DescribeStreamConsumer.BadConsumerArn", "DescribeStreamConsumer")
        {
            Source = "model: DescribeStreamConsumer VE (ConsumerARN pattern)",
            Request = c => new { ConsumerARN = c.StreamArn },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("consumerARN", "must satisfy regular expression pattern: .*"),
        };

        // ListStreamConsumers: ENT IA LE RIU RNF
        yield return new("ListStreamConsumers.Lists", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumersOutput",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "b");
                await RegisterAsync(c, "a");
            },
            Request = c => new { StreamARN = c.StreamArn },
            ExpectedType = null,
            Status = 200,
            Message = """\{"Consumers":\[\{"ConsumerName":"a",[^\]]*\},\{"ConsumerName":"b",[^\]]*\}\]\}""",
        };
        yield return new("ListStreamConsumers.StreamNotFound", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumers RNF",
            Request = c => new { StreamARN = c.StreamArn },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("ListStreamConsumers.WrongCreationTimestamp", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumersInput.StreamCreationTimestamp (names one incarnation of the stream)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, StreamCreationTimestamp = 1_000_000 },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("ListStreamConsumers.InvalidNextToken", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumers IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, NextToken = "bm90LWEtdG9rZW4=" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid NextToken\.",
        };
        yield return new("ListStreamConsumers.NextTokenWithCreationTimestamp", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumersInput.StreamCreationTimestamp (not with NextToken)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, NextToken = "bm90LWEtdG9rZW4=", StreamCreationTimestamp = 1_000_000 },
            ExpectedType = "InvalidArgumentException",
            Message = @"NextToken and StreamCreationTimestamp cannot be provided together\.",
        };
        yield return new("ListStreamConsumers.ExpiredNextToken", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumers ENT (tokens expire after 300 seconds)",
            Server = FidelityServer.ManualClock,
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "a");
                await RegisterAsync(c, "b");
                var page = await c.OkAsync("ListStreamConsumers", new { StreamARN = c.StreamArn, MaxResults = 1 });
                c.Values["token"] = page["NextToken"]!.GetValue<string>();
                c.Clock.Advance(TimeSpan.FromSeconds(301));
            },
            Request = c => new { StreamARN = c.StreamArn, NextToken = c.Values["token"] },
            ExpectedType = "ExpiredNextTokenException",
            Message = @"The timestamp on the NextToken has expired\.",
        };
        yield return new("ListStreamConsumers.MaxResultsZero", "ListStreamConsumers")
        {
            Source = "model: ListStreamConsumers VE (MaxResults 1-10000)",
            Request = c => new { StreamARN = c.StreamArn, MaxResults = 0 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("maxResults", "must have value greater than or equal to 1", "'0'"),
        };

        // DeregisterStreamConsumer: IA LE RNF
        yield return new("DeregisterStreamConsumer.ByName", "DeregisterStreamConsumer")
        {
            Source = "model: DeregisterStreamConsumer (StreamARN + ConsumerName)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = null,
            Status = 200,
            Message = "",
        };
        yield return new("DeregisterStreamConsumer.NameNotFound", "DeregisterStreamConsumer")
        {
            Source = "model: DeregisterStreamConsumer RNF",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "nobody" },
            ExpectedType = "ResourceNotFoundException",
            Message = ConsumerNotFound.Replace("{consumer}", "nobody", StringComparison.Ordinal),
        };
        yield return new("DeregisterStreamConsumer.NameWithoutStream", "DeregisterStreamConsumer")
        {
            Source = "model: DeregisterStreamConsumer IA",
            Request = _ => new { ConsumerName = "app" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Either ConsumerARN or both ConsumerName and StreamARN must be provided\.",
        };
        yield return new("DeregisterStreamConsumer.StreamNotFound", "DeregisterStreamConsumer")
        {
            Source = "model: DeregisterStreamConsumer RNF (StreamARN)",
            Request = c => new { StreamARN = c.StreamArn, ConsumerName = "app" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };

        // DeleteStream with consumers: RIU unless EnforceConsumerDeletion
        yield return new("DeleteStream.WithConsumers", "DeleteStream")
        {
            Source = "4.3: DeleteStream with a consumer registered",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamName = c.Stream },
            ExpectedType = "ResourceInUseException",
            Message = @"DeleteStream can't delete {account}:{stream} because there are consumers associated with this data stream\. " +
                @"To delete {stream} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it\.",
        };
        yield return new("DeleteStream.WithConsumersEnforceFalse", "DeleteStream")
        {
            Source = "model: DeleteStreamInput.EnforceConsumerDeletion (false is like unset)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamName = c.Stream, EnforceConsumerDeletion = false },
            ExpectedType = "ResourceInUseException",
            Message = @"DeleteStream can't delete {account}:{stream} because .*",
        };
        yield return new("DeleteStream.WithConsumersEnforced", "DeleteStream")
        {
            Source = "model: DeleteStreamInput.EnforceConsumerDeletion",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await RegisterAsync(c, "app");
            },
            Request = c => new { StreamName = c.Stream, EnforceConsumerDeletion = true },
            ExpectedType = null,
            Status = 200,
            Message = "",
        };

        // Tags and policies by consumer ARN
        yield return new("ListTagsForResource.ConsumerArn", "ListTagsForResource")
        {
            Source = "model: ListTagsForResource (stream or consumer ARN); RegisterStreamConsumer Tags",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["arn"] = await RegisterAsync(c, "app", new Dictionary<string, string> { ["team"] = "blue" });
            },
            Request = c => new { ResourceARN = c.Values["arn"] },
            ExpectedType = null,
            Status = 200,
            Message = """\{"Tags":\[\{"Key":"team","Value":"blue"\}\]\}""",
        };
        yield return new("TagResource.ConsumerNotFound", "TagResource")
        {
            Source = "model: TagResource RNF (consumer ARN)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { ResourceARN = c.StreamArn + "/consumer/nobody:1700000000", Tags = new Dictionary<string, string> { ["a"] = "1" } },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Consumer arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/nobody:1700000000 under account {account} not found\.",
        };
        yield return new("GetResourcePolicy.ConsumerWithoutPolicy", "GetResourcePolicy")
        {
            Source = "model: GetResourcePolicy (consumer ARN)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["arn"] = await RegisterAsync(c, "app");
            },
            Request = c => new { ResourceARN = c.Values["arn"] },
            ExpectedType = null,
            Status = 200,
            Message = """\{"Policy":"\{\}"\}""",
        };
        yield return new("PutResourcePolicy.ConsumerNotFound", "PutResourcePolicy")
        {
            Source = "model: PutResourcePolicy RNF (consumer ARN)",
            Request = c => new { ResourceARN = c.StreamArn + "/consumer/nobody:1700000000", Policy = "{}" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Consumer arn:aws:kinesis:{region}:{account}:stream/{stream}/consumer/nobody:1700000000 under account {account} not found\.",
        };
    }

    private static async Task<string> RegisterAsync(FidelityContext c, string name, Dictionary<string, string>? tags = null)
    {
        var response = tags is null
            ? await c.OkAsync("RegisterStreamConsumer", new { StreamARN = c.StreamArn, ConsumerName = name })
            : await c.OkAsync("RegisterStreamConsumer", new { StreamARN = c.StreamArn, ConsumerName = name, Tags = tags });
        return response["Consumer"]!["ConsumerARN"]!.GetValue<string>();
    }
}
