namespace Millrace.Server.Tests.Fidelity;

/// <summary>PutRecord, PutRecords and GetRecords.</summary>
public sealed class RecordCases : FidelityCaseFamily
{
    private const int OneMiB = 1024 * 1024;

    private static readonly Lazy<string> AlmostOneMiB = new(() => Convert.ToBase64String(new byte[OneMiB - 1]));

    public override IEnumerable<FidelityCase> Cases()
    {
        // PutRecord: AD DR IF IA PTE RNF KMS×6 (no IAM, KMS or DryRun here; PTE is in ThrottlingCases)
        yield return new("PutRecord.ExactlyOneMiBIncludingKey", "PutRecord")
        {
            Source = "4.3: PutRecord of exactly 1 MiB",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", Data = AlmostOneMiB.Value },
            ExpectedType = null,
            Status = 200,
            Message = """.*"SequenceNumber":"\d+".*""",
        };
        yield return new("PutRecord.OneMiBPlusOne", "PutRecord")
        {
            Source = "4.3: PutRecord of 1 MiB+1",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "kk", Data = AlmostOneMiB.Value },
            ExpectedType = "InvalidArgumentException",
            Message = @"Record size 1048577 bytes \(data and partition key\) exceeds the maximum record size of 1048576 bytes for stream {stream}\.",
        };
        yield return new("PutRecord.StreamNotFound", "PutRecord")
        {
            Source = "model: PutRecord RNF",
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", Data = "eA==" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("PutRecord.MissingPartitionKey", "PutRecord")
        {
            Source = "4.3: Missing required field",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Data = "eA==" },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("partitionKey"),
        };
        yield return new("PutRecord.ExplicitHashKeyOutOfRange", "PutRecord")
        {
            Source = "model: PutRecord IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", ExplicitHashKey = "340282366920938463463374607431768211456", Data = "eA==" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid ExplicitHashKey\. ExplicitHashKey must be in the range: \[0, 2\^128-1\]\. Specified value was 340282366920938463463374607431768211456",
        };
        yield return new("PutRecord.ExplicitHashKeyNotANumber", "PutRecord")
        {
            Source = "model: PutRecord VE (ExplicitHashKey pattern)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", ExplicitHashKey = "abc", Data = "eA==" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("explicitHashKey", @"must satisfy regular expression pattern: 0\|\(\[1-9\]\\d\{0,38\}\)", "'abc'"),
        };
        yield return new("PutRecord.BadSequenceNumberForOrdering", "PutRecord")
        {
            Source = "model: PutRecord IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", SequenceNumberForOrdering = "1", Data = "eA==" },
            ExpectedType = "InvalidArgumentException",
            Message = @"ExclusiveMinimumSequenceNumber 1 used in PutRecord on stream {stream} under account {account} is invalid\.",
        };
        yield return new("PutRecord.PartitionKeyTooLong", "PutRecord")
        {
            Source = "model: PutRecord VE (PartitionKey 1-256)",
            Request = c => new { StreamName = c.Stream, PartitionKey = new string('k', 257), Data = "eA==" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("partitionKey", "must have length less than or equal to 256"),
        };

        // PutRecords: AD DR IF IA PTE RNF KMS×6
        yield return new("PutRecords.FiveHundredOneEntries", "PutRecords")
        {
            Source = "4.3: PutRecords with 501 entries",
            Request = c => new { StreamName = c.Stream, Records = Enumerable.Range(0, 501).Select(_ => new { PartitionKey = "k", Data = "eA==" }).ToArray() },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("records", "must have length less than or equal to 500"),
        };
        yield return new("PutRecords.NoEntries", "PutRecords")
        {
            Source = "model: PutRecords VE (Records 1-500)",
            Request = c => new { StreamName = c.Stream, Records = Array.Empty<object>() },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("records", "must have length greater than or equal to 1"),
        };
        yield return new("PutRecords.OverTenMiB", "PutRecords")
        {
            Source = "4.3: PutRecords of about 8 MiB of base64 (rejected; the current cap is 10 MiB of records)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Records = Enumerable.Range(0, 11).Select(_ => new { PartitionKey = "k", Data = AlmostOneMiB.Value }).ToArray() },
            ExpectedType = "InvalidArgumentException",
            Message = @"Records size exceeds 10 MB limit",
        };
        yield return new("PutRecords.StreamNotFound", "PutRecords")
        {
            Source = "model: PutRecords RNF",
            Request = c => new { StreamName = c.Stream, Records = new[] { new { PartitionKey = "k", Data = "eA==" } } },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("PutRecords.EntryWithoutPartitionKey", "PutRecords")
        {
            // PartitionKey became optional in the newest model (AUTO distribution), so it is checked against the
            // stream's strategy: the stream must exist for the check to apply.
            Source = "4.3: Missing required field",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Records = new object[] { new { PartitionKey = "k", Data = "eA==" }, new { Data = "eA==" } } },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("records.2.member.partitionKey"),
        };
        yield return new("PutRecords.EntryExplicitHashKeyOutOfRange", "PutRecords")
        {
            Source = "model: PutRecords IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, Records = new[] { new { PartitionKey = "k", ExplicitHashKey = "340282366920938463463374607431768211456", Data = "eA==" } } },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid ExplicitHashKey\. ExplicitHashKey must be in the range: \[0, 2\^128-1\]\. Specified value was 340282366920938463463374607431768211456",
        };

        // GetRecords: AD DR EI IF IA PTE RNF KMS×6
        yield return new("GetRecords.GarbageIterator", "GetRecords")
        {
            Source = "4.3: Garbage ShardIterator",
            Request = _ => new { ShardIterator = "AAAAAAAAAAGarbage" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid ShardIterator\.",
        };
        yield return new("GetRecords.MissingIterator", "GetRecords")
        {
            Source = "4.3: Missing required field",
            Request = _ => new { Limit = 1 },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("shardIterator"),
        };
        yield return new("GetRecords.LimitOverTenThousand", "GetRecords")
        {
            Source = "model: GetRecords Limit 1-10000 (the model's constraint answers before the operation's IA)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["it"] = await c.IteratorAsync();
            },
            Request = c => new { ShardIterator = c.Values["it"], Limit = 10001 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("limit", "must have value less than or equal to 10000", "'10001'"),
        };
        yield return new("GetRecords.ExpiredIterator", "GetRecords")
        {
            Source = "model: GetRecords EI",
            Server = FidelityServer.ManualClock,
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["it"] = await c.IteratorAsync();
                c.Clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
            },
            Request = c => new { ShardIterator = c.Values["it"] },
            ExpectedType = "ExpiredIteratorException",
            Message = @"Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated delay of 300000 milliseconds\.",
        };
        yield return new("GetRecords.StreamDeleted", "GetRecords")
        {
            Source = "model: GetRecords RNF",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["it"] = await c.IteratorAsync();
                await c.OkAsync("DeleteStream", new { StreamName = c.Stream });
            },
            Request = c => new { ShardIterator = c.Values["it"] },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Shard shardId-000000000000 in stream {stream} under account {account} does not exist",
        };
        yield return new("GetRecords.ArnOfAnotherStream", "GetRecords")
        {
            Source = "model: GetRecords IA",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["it"] = await c.IteratorAsync();
            },
            Request = c => new { ShardIterator = c.Values["it"], StreamARN = FidelityContext.ArnOf("other") },
            ExpectedType = "InvalidArgumentException",
            Message = @"StreamARN arn:aws:kinesis:{region}:{account}:stream/other does not match the stream of the ShardIterator\.",
        };
    }
}
