using System.Net;
using System.Text.Json.Nodes;
using Millrace.Storage.Logs;

namespace Millrace.Logs.Tests;

/// <summary>Every served Logs operation over HTTP, with AWS's errors and rules, against the real SQLite store.</summary>
public sealed class LogsServiceTests : IAsyncLifetime
{
    private LogsTestServer _server = null!;

    public async Task InitializeAsync() => _server = await LogsTestServers.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static JsonObject In(params (string Key, JsonNode? Value)[] members)
    {
        var o = new JsonObject();
        foreach (var (key, value) in members)
        {
            o[key] = value;
        }

        return o;
    }

    private static JsonArray Events(params (long Ts, string Message)[] events) =>
        new(events.Select(e => (JsonNode?)new JsonObject { ["timestamp"] = e.Ts, ["message"] = e.Message }).ToArray());

    private async Task GroupWithStreamAsync(string group, params string[] streams)
    {
        await _server.OkAsync("CreateLogGroup", In(("logGroupName", group)));
        foreach (var stream in streams)
        {
            await _server.OkAsync("CreateLogStream", In(("logGroupName", group), ("logStreamName", stream)));
        }
    }

    private async Task PutAsync(string group, string stream, params (long Ts, string Message)[] events) =>
        await _server.OkAsync("PutLogEvents", In(("logGroupName", group), ("logStreamName", stream), ("logEvents", Events(events))));

    [Fact]
    public async Task LogGroupsAreCreatedDescribedPagedAndDeleted()
    {
        foreach (var name in new[] { "/aws/lambda/alpha", "/aws/lambda/beta", "/app/Gamma-web", "/app/delta" })
        {
            await _server.OkAsync("CreateLogGroup", In(("logGroupName", name), ("tags", new JsonObject { ["team"] = "data" })));
        }

        var duplicate = await _server.ErrorAsync("CreateLogGroup", In(("logGroupName", "/aws/lambda/alpha")));
        Assert.Equal((400, "ResourceAlreadyExistsException", "The specified log group already exists"), duplicate);

        var invalid = await _server.ErrorAsync("CreateLogGroup", In(("logGroupName", "bad name!")));
        Assert.Equal(400, invalid.Status);
        Assert.Equal("InvalidParameterException", invalid.Type);
        Assert.Contains("logGroupName", invalid.Message, StringComparison.Ordinal);

        var all = await _server.OkAsync("DescribeLogGroups", In());
        Assert.Equal(["/app/Gamma-web", "/app/delta", "/aws/lambda/alpha", "/aws/lambda/beta"], Names(all["logGroups"]!, "logGroupName"));
        var alpha = all["logGroups"]!.AsArray().Single(g => g!["logGroupName"]!.GetValue<string>() == "/aws/lambda/alpha")!;
        Assert.Equal("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/alpha:*", alpha["arn"]!.GetValue<string>());
        Assert.Equal("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/alpha", alpha["logGroupArn"]!.GetValue<string>());
        Assert.Equal("STANDARD", alpha["logGroupClass"]!.GetValue<string>());
        Assert.Null(alpha["retentionInDays"]);

        var prefixed = await _server.OkAsync("DescribeLogGroups", In(("logGroupNamePrefix", "/aws/lambda/")));
        Assert.Equal(["/aws/lambda/alpha", "/aws/lambda/beta"], Names(prefixed["logGroups"]!, "logGroupName"));
        var pattern = await _server.OkAsync("DescribeLogGroups", In(("logGroupNamePattern", "gamma")));
        Assert.Equal(["/app/Gamma-web"], Names(pattern["logGroups"]!, "logGroupName")); // pattern is case-insensitive
        var both = await _server.ErrorAsync("DescribeLogGroups", In(("logGroupNamePrefix", "/a"), ("logGroupNamePattern", "a")));
        Assert.Equal("InvalidParameterException", both.Type);

        var seen = new List<string>();
        string? token = null;
        do
        {
            var page = await _server.OkAsync("DescribeLogGroups", In(("limit", 3), ("nextToken", token)));
            seen.AddRange(Names(page["logGroups"]!, "logGroupName"));
            token = page["nextToken"]?.GetValue<string>();
        }
        while (token is not null);
        Assert.Equal(Names(all["logGroups"]!, "logGroupName"), seen);

        var bad = await _server.ErrorAsync("DescribeLogGroups", In(("nextToken", "!!not-a-token")));
        Assert.Equal("InvalidParameterException", bad.Type);

        var tags = await _server.OkAsync("ListTagsForResource", In(("resourceArn", "arn:aws:logs:us-east-1:123456789012:log-group:/app/delta")));
        Assert.Equal("data", tags["tags"]!["team"]!.GetValue<string>());
        await _server.OkAsync("TagResource", In(("resourceArn", "arn:aws:logs:us-east-1:123456789012:log-group:/app/delta"), ("tags", new JsonObject { ["env"] = "ci" })));
        await _server.OkAsync("UntagLogGroup", In(("logGroupName", "/app/delta"), ("tags", new JsonArray("team"))));
        var retagged = await _server.OkAsync("ListTagsLogGroup", In(("logGroupName", "/app/delta")));
        Assert.Equal("{\"env\":\"ci\"}", retagged["tags"]!.ToJsonString());

        await _server.OkAsync("DeleteLogGroup", In(("logGroupName", "/app/delta")));
        var gone = await _server.ErrorAsync("DeleteLogGroup", In(("logGroupName", "/app/delta")));
        Assert.Equal((400, "ResourceNotFoundException", "The specified log group does not exist."), gone);
    }

    [Fact]
    public async Task LogStreamsAreOrderedByNameOrLastEventTime()
    {
        await GroupWithStreamAsync("/g/streams", "b-stream", "a-stream", "c-stream");
        var missingGroup = await _server.ErrorAsync("CreateLogStream", In(("logGroupName", "/g/none"), ("logStreamName", "s")));
        Assert.Equal("ResourceNotFoundException", missingGroup.Type);
        var duplicate = await _server.ErrorAsync("CreateLogStream", In(("logGroupName", "/g/streams"), ("logStreamName", "a-stream")));
        Assert.Equal((400, "ResourceAlreadyExistsException", "The specified log stream already exists"), duplicate);

        var now = _server.Clock.NowMs;
        await PutAsync("/g/streams", "c-stream", (now - 3000, "c1"));
        await PutAsync("/g/streams", "a-stream", (now - 2000, "a1"), (now - 1000, "a2"));

        var byName = await _server.OkAsync("DescribeLogStreams", In(("logGroupName", "/g/streams")));
        Assert.Equal(["a-stream", "b-stream", "c-stream"], Names(byName["logStreams"]!, "logStreamName"));
        var a = byName["logStreams"]![0]!;
        Assert.Equal(now - 2000, a["firstEventTimestamp"]!.GetValue<long>());
        Assert.Equal(now - 1000, a["lastEventTimestamp"]!.GetValue<long>());
        Assert.Equal(now, a["lastIngestionTime"]!.GetValue<long>());
        Assert.Equal("arn:aws:logs:us-east-1:123456789012:log-group:/g/streams:log-stream:a-stream", a["arn"]!.GetValue<string>());
        Assert.Null(byName["logStreams"]![1]!["lastEventTimestamp"]);

        var latestFirst = await _server.OkAsync("DescribeLogStreams",
            In(("logGroupName", "/g/streams"), ("orderBy", "LastEventTime"), ("descending", true)));
        Assert.Equal(["a-stream", "c-stream", "b-stream"], Names(latestFirst["logStreams"]!, "logStreamName"));

        var byArn = await _server.OkAsync("DescribeLogStreams",
            In(("logGroupIdentifier", "arn:aws:logs:us-east-1:123456789012:log-group:/g/streams"), ("logStreamNamePrefix", "c")));
        Assert.Equal(["c-stream"], Names(byArn["logStreams"]!, "logStreamName"));

        var mixed = await _server.ErrorAsync("DescribeLogStreams",
            In(("logGroupName", "/g/streams"), ("orderBy", "LastEventTime"), ("logStreamNamePrefix", "a")));
        Assert.Equal((400, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix."), mixed);

        var page1 = await _server.OkAsync("DescribeLogStreams", In(("logGroupName", "/g/streams"), ("limit", 2)));
        var page2 = await _server.OkAsync("DescribeLogStreams", In(("logGroupName", "/g/streams"), ("limit", 2), ("nextToken", page1["nextToken"]!.GetValue<string>())));
        Assert.Equal(["c-stream"], Names(page2["logStreams"]!, "logStreamName"));
        Assert.Null(page2["nextToken"]);

        await _server.OkAsync("DeleteLogStream", In(("logGroupName", "/g/streams"), ("logStreamName", "a-stream")));
        var gone = await _server.ErrorAsync("GetLogEvents", In(("logGroupName", "/g/streams"), ("logStreamName", "a-stream")));
        Assert.Equal((400, "ResourceNotFoundException", "The specified log stream does not exist."), gone);
    }

    [Fact]
    public async Task PutLogEventsAppliesAwsBatchRules()
    {
        await GroupWithStreamAsync("/g/put", "s");
        var now = _server.Clock.NowMs;
        var first = await _server.OkAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents", Events((now, "one")))));
        Assert.Null(first["rejectedLogEventsInfo"]);
        var token1 = first["nextSequenceToken"]!.GetValue<string>();
        var second = await _server.OkAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents", Events((now, "two")))));
        Assert.NotEqual(token1, second["nextSequenceToken"]!.GetValue<string>());

        var unordered = await _server.ErrorAsync("PutLogEvents",
            In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents", Events((now, "b"), (now - 1, "a")))));
        Assert.Equal((400, "InvalidParameterException", "Log events in a single PutLogEvents request must be in chronological order."), unordered);

        var span = await _server.ErrorAsync("PutLogEvents",
            In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents", Events((now - 90_000_000, "a"), (now, "b")))));
        Assert.Equal("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.", span.Message);

        var big = string.Concat(Enumerable.Repeat("x", 200_000));
        var tooLarge = await _server.ErrorAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"),
            ("logEvents", Events(Enumerable.Range(0, 6).Select(i => (now, big)).ToArray()))));
        Assert.Equal("InvalidParameterException", tooLarge.Type);
        Assert.StartsWith("Upload too large: 1200156 bytes exceeds limit of 1048576", tooLarge.Message, StringComparison.Ordinal);

        var empty = await _server.ErrorAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents", Events((now, "")))));
        Assert.Equal("InvalidParameterException", empty.Type);

        var noStream = await _server.ErrorAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "nope"), ("logEvents", Events((now, "x")))));
        Assert.Equal((400, "ResourceNotFoundException", "The specified log stream does not exist."), noStream);

        // Too old (over 14 days), then accepted, then too new (over 2 hours ahead): the middle is stored.
        const long day = 86_400_000;
        var mixed = await _server.OkAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("logEvents",
            Events((now - (15 * day) + (3 * 3_600_000), "old"), (now - 1000, "kept-1"), (now + 1000, "kept-2"), (now + (3 * 3_600_000), "new")))));
        var rejected = mixed["rejectedLogEventsInfo"]!;
        Assert.Equal(0, rejected["tooOldLogEventEndIndex"]!.GetValue<int>());
        Assert.Equal(3, rejected["tooNewLogEventStartIndex"]!.GetValue<int>());

        var stored = await _server.OkAsync("GetLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"), ("startFromHead", true)));
        Assert.Equal(["kept-1", "one", "two", "kept-2"], Names(stored["events"]!, "message"));

        // With a 1-day retention, events older than a day are expired rather than stored.
        await _server.OkAsync("PutRetentionPolicy", In(("logGroupName", "/g/put"), ("retentionInDays", 1)));
        var expired = await _server.OkAsync("PutLogEvents", In(("logGroupName", "/g/put"), ("logStreamName", "s"),
            ("logEvents", Events((now - (2 * day), "expired"), (now, "fresh")))));
        Assert.Equal(0, expired["rejectedLogEventsInfo"]!["expiredLogEventEndIndex"]!.GetValue<int>());
    }

    [Fact]
    public async Task GetLogEventsPagesForwardAndBackwardWithAwsTokens()
    {
        await GroupWithStreamAsync("/g/get", "s");
        var t0 = _server.Clock.NowMs - 100_000;
        await PutAsync("/g/get", "s", Enumerable.Range(0, 25).Select(i => (t0 + (i / 2), $"event-{i:D2}")).ToArray());

        // Forward from the head in pages of 10, until the forward token repeats.
        var forward = new List<string>();
        var input = In(("logGroupName", "/g/get"), ("logStreamName", "s"), ("startFromHead", true), ("limit", 10));
        string? previous = null;
        while (true)
        {
            var page = await _server.OkAsync("GetLogEvents", input);
            forward.AddRange(Names(page["events"]!, "message"));
            var next = page["nextForwardToken"]!.GetValue<string>();
            Assert.StartsWith("f/", next, StringComparison.Ordinal);
            if (next == previous)
            {
                Assert.Empty(page["events"]!.AsArray());
                break;
            }

            previous = next;
            input["nextToken"] = next;
        }

        Assert.Equal(Enumerable.Range(0, 25).Select(i => $"event-{i:D2}"), forward);

        // Without startFromHead the newest events come first (in ascending order), then backward pages.
        var tail = await _server.OkAsync("GetLogEvents", In(("logGroupName", "/g/get"), ("logStreamName", "s"), ("limit", 10)));
        Assert.Equal(Enumerable.Range(15, 10).Select(i => $"event-{i:D2}"), Names(tail["events"]!, "message"));
        var back = await _server.OkAsync("GetLogEvents", In(("logGroupName", "/g/get"), ("logStreamName", "s"), ("limit", 10),
            ("nextToken", tail["nextBackwardToken"]!.GetValue<string>())));
        Assert.Equal(Enumerable.Range(5, 10).Select(i => $"event-{i:D2}"), Names(back["events"]!, "message"));

        // startTime is inclusive and endTime exclusive.
        var window = await _server.OkAsync("GetLogEvents", In(("logGroupName", "/g/get"), ("logStreamName", "s"), ("startFromHead", true),
            ("startTime", t0 + 2), ("endTime", t0 + 4)));
        Assert.Equal(["event-04", "event-05", "event-06", "event-07"], Names(window["events"]!, "message"));
        Assert.Equal(t0 + 2, window["events"]![0]!["timestamp"]!.GetValue<long>());
        Assert.NotNull(window["events"]![0]!["ingestionTime"]);

        var bad = await _server.ErrorAsync("GetLogEvents", In(("logGroupName", "/g/get"), ("logStreamName", "s"), ("nextToken", "f/zzz")));
        Assert.Equal("InvalidParameterException", bad.Type);
    }

    [Fact]
    public async Task FilterLogEventsInterleavesStreamsMatchesPatternsAndPages()
    {
        await GroupWithStreamAsync("/g/filter", "2026/12/06/[$LATEST]aaa", "2026/12/06/[$LATEST]bbb", "other");
        var t0 = _server.Clock.NowMs - 60_000;
        await PutAsync("/g/filter", "2026/12/06/[$LATEST]aaa", (t0, "START a"), (t0 + 2, "ERROR a broke"), (t0 + 4, "{\"level\":\"warn\",\"ms\":900}"));
        await PutAsync("/g/filter", "2026/12/06/[$LATEST]bbb", (t0 + 1, "START b"), (t0 + 3, "ERROR b broke"), (t0 + 5, "{\"level\":\"info\",\"ms\":12}"));
        await PutAsync("/g/filter", "other", (t0 + 2, "ERROR other"));

        var all = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/filter")));
        Assert.Equal(["START a", "START b", "ERROR a broke", "ERROR other", "ERROR b broke", "{\"level\":\"warn\",\"ms\":900}", "{\"level\":\"info\",\"ms\":12}"],
            Names(all["events"]!, "message"));
        var ids = all["events"]!.AsArray().Select(e => e!["eventId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(56, id.Length));
        Assert.Null(all["nextToken"]);

        var errors = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("filterPattern", "ERROR broke"),
            ("logStreamNamePrefix", "2026/12/06/")));
        Assert.Equal(["ERROR a broke", "ERROR b broke"], Names(errors["events"]!, "message"));
        Assert.Equal("2026/12/06/[$LATEST]aaa", errors["events"]![0]!["logStreamName"]!.GetValue<string>());

        var json = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("filterPattern", "{ $.ms > 100 }")));
        Assert.Equal(["{\"level\":\"warn\",\"ms\":900}"], Names(json["events"]!, "message"));

        var named = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("logStreamNames", new JsonArray("other")),
            ("startTime", t0 + 2), ("endTime", t0 + 2)));
        Assert.Equal(["ERROR other"], Names(named["events"]!, "message")); // both ends inclusive

        var paged = new List<string>();
        string? token = null;
        do
        {
            var page = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("limit", 3), ("nextToken", token)));
            paged.AddRange(Names(page["events"]!, "message"));
            token = page["nextToken"]?.GetValue<string>();
        }
        while (token is not null);
        Assert.Equal(Names(all["events"]!, "message"), paged);

        var exclusive = await _server.ErrorAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("logStreamNames", new JsonArray("other")), ("logStreamNamePrefix", "o")));
        Assert.Equal("InvalidParameterException", exclusive.Type);
        var badPattern = await _server.ErrorAsync("FilterLogEvents", In(("logGroupName", "/g/filter"), ("filterPattern", "{ $.ms > }")));
        Assert.Equal("InvalidParameterException", badPattern.Type);
        var noGroup = await _server.ErrorAsync("FilterLogEvents", In(("logGroupName", "/g/none")));
        Assert.Equal((400, "ResourceNotFoundException", "The specified log group does not exist."), noGroup);
    }

    [Fact]
    public async Task RetentionHidesThenDeletesExpiredEvents()
    {
        await GroupWithStreamAsync("/g/retention", "s");
        const long day = 86_400_000;
        var now = _server.Clock.NowMs;
        await PutAsync("/g/retention", "s", (now - (3 * day), "three days old"));
        await PutAsync("/g/retention", "s", (now - (12 * 3_600_000), "half a day old"), (now, "new"));

        var invalid = await _server.ErrorAsync("PutRetentionPolicy", In(("logGroupName", "/g/retention"), ("retentionInDays", 2)));
        Assert.Equal("InvalidParameterException", invalid.Type);
        Assert.Contains("Member must satisfy enum value set: [1, 3, 5, 7, 14,", invalid.Message, StringComparison.Ordinal);
        var noGroup = await _server.ErrorAsync("PutRetentionPolicy", In(("logGroupName", "/g/none"), ("retentionInDays", 1)));
        Assert.Equal("ResourceNotFoundException", noGroup.Type);

        await _server.OkAsync("PutRetentionPolicy", In(("logGroupName", "/g/retention"), ("retentionInDays", 1)));
        var described = await _server.OkAsync("DescribeLogGroups", In(("logGroupNamePrefix", "/g/retention")));
        Assert.Equal(1, described["logGroups"]![0]!["retentionInDays"]!.GetValue<int>());

        var visible = await _server.OkAsync("FilterLogEvents", In(("logGroupName", "/g/retention")));
        Assert.Equal(["half a day old", "new"], Names(visible["events"]!, "message"));

        // A day later only "new" is inside the retention; the sweep deletes the rest from disk.
        _server.Clock.Now = _server.Clock.Now.AddHours(23);
        var later = await _server.OkAsync("GetLogEvents", In(("logGroupName", "/g/retention"), ("logStreamName", "s"), ("startFromHead", true)));
        Assert.Equal(["new"], Names(later["events"]!, "message"));
        Assert.Equal(2, await _server.Store.ExpireAsync(_server.Clock.NowMs));
        var group = await _server.Store.GetGroupAsync("/g/retention");
        Assert.Equal("new".Length, group!.StoredBytes);

        await _server.OkAsync("DeleteRetentionPolicy", In(("logGroupName", "/g/retention")));
        var unlimited = await _server.OkAsync("DescribeLogGroups", In(("logGroupNamePrefix", "/g/retention")));
        Assert.Null(unlimited["logGroups"]![0]!["retentionInDays"]);
    }

    [Fact]
    public async Task EventsSurviveReopeningTheStore()
    {
        var directory = Path.Combine(Path.GetTempPath(), "millrace-logs-reopen-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var store = SqliteLogStore.Open(directory))
            {
                var service = new LogsService(store);
                await service.EnsureStreamAsync("/aws/lambda/f", "2026/12/06/[$LATEST]x");
                await service.EnsureStreamAsync("/aws/lambda/f", "2026/12/06/[$LATEST]x"); // idempotent
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                Assert.Equal(2, await service.PutAsync("/aws/lambda/f", "2026/12/06/[$LATEST]x", [new(now, "START"), new(now + 1, "END")]));
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using var reopened = SqliteLogStore.Open(directory);
            var (outcome, events) = await reopened.ReadStreamAsync("/aws/lambda/f", "2026/12/06/[$LATEST]x", long.MinValue, long.MaxValue,
                LogPosition.Start, forward: true, limit: 100, now: DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            Assert.Equal(LogStoreOutcome.Done, outcome);
            Assert.Equal(["START", "END"], events.Select(e => e.Message));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static List<string> Names(JsonNode array, string member) =>
        array.AsArray().Select(n => n![member]!.GetValue<string>()).ToList();
}
