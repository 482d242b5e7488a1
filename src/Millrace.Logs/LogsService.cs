using System.Text;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage.Logs;

namespace Millrace.Logs;

/// <summary>Where the Logs service runs: the ARNs it writes and its clock.</summary>
public sealed class LogsOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>
/// The CloudWatch Logs subset (Logs_20140328, JSON 1.1) over an <see cref="ILogStore"/>: log groups and streams,
/// PutLogEvents with AWS's batch rules, GetLogEvents with forward/backward tokens, FilterLogEvents with filter
/// patterns, retention and tags. Parsing, validation and serialization come from the embedded model.
/// </summary>
public sealed class LogsService
{
    /// <summary>The retention periods AWS accepts, in days.</summary>
    public static readonly int[] RetentionDays =
        [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

    internal const int MaxBatchBytes = 1_048_576;
    internal const int EventOverheadBytes = 26;
    private const long HourMs = 3_600_000;
    private const long DayMs = 24 * HourMs;
    private const int MaxResponseBytes = 1_048_576;
    private const int MaxScannedPerFilterCall = 50_000;

    private readonly ILogStore _store;
    private readonly LogsOptions _options;

    public LogsService(ILogStore store, LogsOptions? options = null)
    {
        _store = store;
        _options = options ?? new LogsOptions();
        Endpoint = new ModelService("logs", null, new ModelServiceOptions { ValidationErrorCode = "InvalidParameterException" })
            .OnAsync("CreateLogGroup", CreateLogGroupAsync)
            .OnAsync("DeleteLogGroup", DeleteLogGroupAsync)
            .OnAsync("DescribeLogGroups", DescribeLogGroupsAsync)
            .OnAsync("CreateLogStream", CreateLogStreamAsync)
            .OnAsync("DeleteLogStream", DeleteLogStreamAsync)
            .OnAsync("DescribeLogStreams", DescribeLogStreamsAsync)
            .OnAsync("PutLogEvents", PutLogEventsAsync)
            .OnAsync("GetLogEvents", GetLogEventsAsync)
            .OnAsync("FilterLogEvents", FilterLogEventsAsync)
            .OnAsync("PutRetentionPolicy", PutRetentionPolicyAsync)
            .OnAsync("DeleteRetentionPolicy", DeleteRetentionPolicyAsync)
            .OnAsync("TagResource", TagResourceAsync)
            .OnAsync("UntagResource", UntagResourceAsync)
            .OnAsync("ListTagsForResource", ListTagsForResourceAsync)
            .OnAsync("TagLogGroup", TagLogGroupAsync)
            .OnAsync("UntagLogGroup", UntagLogGroupAsync)
            .OnAsync("ListTagsLogGroup", ListTagsLogGroupAsync);
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    private long Now => _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public string GroupArn(string group) => $"arn:aws:logs:{_options.Region}:{_options.AccountId}:log-group:{group}";

    /// <summary>How many retention sweeps failed (each is retried at the next tick).</summary>
    public int SweepFailures { get; private set; }

    /// <summary>Deletes expired events now and then every <paramref name="period"/> until cancelled.</summary>
    public async Task RunRetentionSweepAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, _options.Clock);
        do
        {
            try
            {
                await _store.ExpireAsync(Now, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Reads already hide expired events; a failed sweep (e.g. a full disk) is retried at the next tick.
                SweepFailures++;
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    // ---- in-process API (other services write their logs here, never over HTTP) ----

    /// <summary>Creates the group and the stream if they do not exist yet.</summary>
    public async ValueTask EnsureStreamAsync(string group, string stream, CancellationToken cancellationToken = default)
    {
        await _store.CreateGroupAsync(group, Now, null, "STANDARD", new Dictionary<string, string>(), cancellationToken);
        await _store.CreateStreamAsync(group, stream, Now, cancellationToken);
    }

    /// <summary>Appends events to an existing stream with PutLogEvents' rules; returns how many were accepted.</summary>
    public async ValueTask<int> PutAsync(string group, string stream, IReadOnlyList<NewLogEvent> events, CancellationToken cancellationToken = default)
    {
        var (accepted, _) = await AppendCheckedAsync(group, stream, events, cancellationToken);
        return accepted;
    }

    // ---- groups ----

    private async Task<JsonObject?> CreateLogGroupAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "logGroupName")!;
        var tags = TagsOf(input["tags"] as JsonObject);
        var created = await _store.CreateGroupAsync(name, Now, Text(input, "kmsKeyId"), Text(input, "logGroupClass") ?? "STANDARD", tags, ctx.Cancellation);
        if (!created)
        {
            throw new ServiceException("ResourceAlreadyExistsException", "The specified log group already exists");
        }

        return null;
    }

    private async Task<JsonObject?> DeleteLogGroupAsync(JsonObject input, OperationContext ctx)
    {
        if (!await _store.DeleteGroupAsync(Text(input, "logGroupName")!, ctx.Cancellation))
        {
            throw NoSuchGroup();
        }

        return null;
    }

    private async Task<JsonObject?> DescribeLogGroupsAsync(JsonObject input, OperationContext ctx)
    {
        var prefix = Text(input, "logGroupNamePrefix");
        var pattern = Text(input, "logGroupNamePattern");
        if (prefix is not null && pattern is not null)
        {
            throw Invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
        }

        var limit = (int)(Long(input, "limit") ?? 50);
        var after = DecodeToken(Text(input, "nextToken"));
        List<LogGroupRecord> groups;
        bool more;
        if (input["logGroupIdentifiers"] is JsonArray identifiers)
        {
            if (prefix is not null || pattern is not null)
            {
                throw Invalid("logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.");
            }

            groups = [];
            foreach (var id in identifiers.Select(n => GroupNameOf(n!.GetValue<string>())).Distinct().Order(StringComparer.Ordinal))
            {
                if (string.CompareOrdinal(id, after) > 0 && await _store.GetGroupAsync(id, ctx.Cancellation) is { } g)
                {
                    groups.Add(g);
                }
            }

            more = groups.Count > limit;
            groups = groups.Take(limit).ToList();
        }
        else
        {
            groups = (await _store.ListGroupsAsync(after, prefix, pattern, limit + 1, ctx.Cancellation)).ToList();
            more = groups.Count > limit;
            if (more)
            {
                groups.RemoveAt(limit);
            }
        }

        var output = new JsonObject { ["logGroups"] = new JsonArray(groups.Select(GroupJson).ToArray<JsonNode?>()) };
        if (more)
        {
            output["nextToken"] = EncodeToken(groups[^1].Name);
        }

        return output;
    }

    private JsonObject GroupJson(LogGroupRecord g)
    {
        var json = new JsonObject
        {
            ["logGroupName"] = g.Name,
            ["creationTime"] = g.CreationTime,
            ["metricFilterCount"] = 0,
            ["arn"] = GroupArn(g.Name) + ":*",
            ["storedBytes"] = g.StoredBytes,
            ["logGroupClass"] = g.LogGroupClass,
            ["logGroupArn"] = GroupArn(g.Name),
        };
        if (g.RetentionInDays is { } days)
        {
            json["retentionInDays"] = days;
        }

        if (g.KmsKeyId is { } kms)
        {
            json["kmsKeyId"] = kms;
        }

        return json;
    }

    private async Task<JsonObject?> PutRetentionPolicyAsync(JsonObject input, OperationContext ctx)
    {
        var days = Long(input, "retentionInDays");
        if (days is not { } d || Array.IndexOf(RetentionDays, (int)d) < 0 || d > int.MaxValue)
        {
            throw Invalid($"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
                          + $"Member must satisfy enum value set: [{string.Join(", ", RetentionDays)}]");
        }

        if (!await _store.SetRetentionAsync(Text(input, "logGroupName")!, (int)d, ctx.Cancellation))
        {
            throw NoSuchGroup();
        }

        return null;
    }

    private async Task<JsonObject?> DeleteRetentionPolicyAsync(JsonObject input, OperationContext ctx)
    {
        if (!await _store.SetRetentionAsync(Text(input, "logGroupName")!, null, ctx.Cancellation))
        {
            throw NoSuchGroup();
        }

        return null;
    }

    // ---- tags ----

    private async Task<JsonObject?> TagResourceAsync(JsonObject input, OperationContext ctx)
    {
        await TagAsync(GroupOfResourceArn(Text(input, "resourceArn")!), TagsOf(input["tags"] as JsonObject), [], ctx);
        return null;
    }

    private async Task<JsonObject?> UntagResourceAsync(JsonObject input, OperationContext ctx)
    {
        await TagAsync(GroupOfResourceArn(Text(input, "resourceArn")!), new Dictionary<string, string>(), KeysOf(input["tagKeys"]), ctx);
        return null;
    }

    private async Task<JsonObject?> ListTagsForResourceAsync(JsonObject input, OperationContext ctx) =>
        new() { ["tags"] = TagsJson(await RequireGroupAsync(GroupOfResourceArn(Text(input, "resourceArn")!), ctx)) };

    private async Task<JsonObject?> TagLogGroupAsync(JsonObject input, OperationContext ctx)
    {
        await TagAsync(Text(input, "logGroupName")!, TagsOf(input["tags"] as JsonObject), [], ctx);
        return null;
    }

    private async Task<JsonObject?> UntagLogGroupAsync(JsonObject input, OperationContext ctx)
    {
        await TagAsync(Text(input, "logGroupName")!, new Dictionary<string, string>(), KeysOf(input["tags"]), ctx);
        return null;
    }

    private async Task<JsonObject?> ListTagsLogGroupAsync(JsonObject input, OperationContext ctx) =>
        new() { ["tags"] = TagsJson(await RequireGroupAsync(Text(input, "logGroupName")!, ctx)) };

    private async Task TagAsync(string group, IReadOnlyDictionary<string, string> add, IReadOnlyCollection<string> remove, OperationContext ctx)
    {
        if (!await _store.TagGroupAsync(group, add, remove, ctx.Cancellation))
        {
            throw NoSuchGroup();
        }
    }

    private static JsonObject TagsJson(LogGroupRecord group)
    {
        var tags = new JsonObject();
        foreach (var (key, value) in group.Tags.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            tags[key] = value;
        }

        return tags;
    }

    private string GroupOfResourceArn(string arn)
    {
        var marker = ":log-group:";
        var at = arn.IndexOf(marker, StringComparison.Ordinal);
        if (!arn.StartsWith("arn:", StringComparison.Ordinal) || at < 0)
        {
            throw Invalid($"Invalid resource ARN: {arn}");
        }

        var name = arn[(at + marker.Length)..];
        return name.EndsWith(":*", StringComparison.Ordinal) ? name[..^2] : name;
    }

    // ---- streams ----

    private async Task<JsonObject?> CreateLogStreamAsync(JsonObject input, OperationContext ctx)
    {
        switch (await _store.CreateStreamAsync(Text(input, "logGroupName")!, Text(input, "logStreamName")!, Now, ctx.Cancellation))
        {
            case LogStoreOutcome.NoSuchGroup:
                throw NoSuchGroup();
            case LogStoreOutcome.AlreadyExists:
                throw new ServiceException("ResourceAlreadyExistsException", "The specified log stream already exists");
            default:
                return null;
        }
    }

    private async Task<JsonObject?> DeleteLogStreamAsync(JsonObject input, OperationContext ctx)
    {
        Require(await _store.DeleteStreamAsync(Text(input, "logGroupName")!, Text(input, "logStreamName")!, ctx.Cancellation));
        return null;
    }

    private async Task<JsonObject?> DescribeLogStreamsAsync(JsonObject input, OperationContext ctx)
    {
        var group = GroupFromInput(input);
        var prefix = Text(input, "logStreamNamePrefix");
        var byLastEvent = Text(input, "orderBy") == "LastEventTime";
        if (byLastEvent && prefix is not null)
        {
            throw Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
        }

        var limit = (int)(Long(input, "limit") ?? 50);
        var offset = DecodeOffset(Text(input, "nextToken"));
        var streams = await _store.ListStreamsAsync(group, prefix, byLastEvent, Bool(input, "descending"), offset, limit + 1, ctx.Cancellation)
                      ?? throw NoSuchGroup();
        var output = new JsonObject
        {
            ["logStreams"] = new JsonArray(streams.Take(limit).Select(s => StreamJson(group, s)).ToArray<JsonNode?>()),
        };
        if (streams.Count > limit)
        {
            output["nextToken"] = EncodeToken("o" + (offset + limit));
        }

        return output;
    }

    private JsonObject StreamJson(string group, LogStreamRecord s)
    {
        var json = new JsonObject
        {
            ["logStreamName"] = s.Name,
            ["creationTime"] = s.CreationTime,
            ["arn"] = $"{GroupArn(group)}:log-stream:{s.Name}",
            ["storedBytes"] = s.StoredBytes,
        };
        if (s.FirstEventTimestamp is { } first)
        {
            json["firstEventTimestamp"] = first;
        }

        if (s.LastEventTimestamp is { } last)
        {
            json["lastEventTimestamp"] = last;
        }

        if (s.LastIngestionTime is { } ingested)
        {
            json["lastIngestionTime"] = ingested;
        }

        if (s.UploadSequence > 0)
        {
            json["uploadSequenceToken"] = SequenceToken(s.UploadSequence);
        }

        return json;
    }

    // ---- events ----

    private async Task<JsonObject?> PutLogEventsAsync(JsonObject input, OperationContext ctx)
    {
        var group = Text(input, "logGroupName")!;
        var stream = Text(input, "logStreamName")!;
        var events = input["logEvents"]!.AsArray()
            .Select(e => new NewLogEvent(e!["timestamp"]!.GetValue<long>(), e["message"]!.GetValue<string>()))
            .ToList();
        var (_, output) = await AppendCheckedAsync(group, stream, events, ctx.Cancellation);
        return output;
    }

    /// <summary>PutLogEvents' rules: batch size and order refused whole; too old, expired and too new events skipped and reported.</summary>
    private async ValueTask<(int Accepted, JsonObject Output)> AppendCheckedAsync(string group, string stream, IReadOnlyList<NewLogEvent> events,
        CancellationToken cancellationToken)
    {
        long bytes = 0;
        for (var i = 0; i < events.Count; i++)
        {
            bytes += Encoding.UTF8.GetByteCount(events[i].Message) + EventOverheadBytes;
            if (i > 0 && events[i].Timestamp < events[i - 1].Timestamp)
            {
                throw Invalid("Log events in a single PutLogEvents request must be in chronological order.");
            }
        }

        if (bytes > MaxBatchBytes)
        {
            throw Invalid($"Upload too large: {bytes} bytes exceeds limit of {MaxBatchBytes}");
        }

        var now = Now;
        var record = await _store.GetGroupAsync(group, cancellationToken) ?? throw NoSuchGroup();
        var expiredBefore = record.RetentionInDays is { } days ? now - (days * DayMs) : long.MinValue;
        int tooOldEnd = -1, expiredEnd = -1, tooNewStart = events.Count;
        for (var i = 0; i < events.Count; i++)
        {
            var ts = events[i].Timestamp;
            if (ts < now - (14 * DayMs))
            {
                tooOldEnd = i;
            }

            if (ts < expiredBefore)
            {
                expiredEnd = i;
            }

            if (ts > now + (2 * HourMs) && tooNewStart == events.Count)
            {
                tooNewStart = i;
            }
        }

        var first = Math.Max(tooOldEnd, expiredEnd) + 1;
        var accepted = events.Skip(first).Take(Math.Max(0, tooNewStart - first)).ToList();

        // The 24-hour span applies to what would be stored: a batch may report too-old and too-new events together.
        if (accepted.Count > 0 && accepted[^1].Timestamp - accepted[0].Timestamp > DayMs)
        {
            throw Invalid("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.");
        }

        var (outcome, sequence) = await _store.AppendAsync(group, stream, accepted, now, cancellationToken);
        Require(outcome);
        var output = new JsonObject { ["nextSequenceToken"] = SequenceToken(sequence) };
        if (first > 0 || tooNewStart < events.Count)
        {
            var rejected = new JsonObject();
            if (tooNewStart < events.Count)
            {
                rejected["tooNewLogEventStartIndex"] = tooNewStart;
            }

            if (tooOldEnd >= 0)
            {
                rejected["tooOldLogEventEndIndex"] = tooOldEnd;
            }

            if (expiredEnd >= 0)
            {
                rejected["expiredLogEventEndIndex"] = expiredEnd;
            }

            output["rejectedLogEventsInfo"] = rejected;
        }

        return (accepted.Count, output);
    }

    private async Task<JsonObject?> GetLogEventsAsync(JsonObject input, OperationContext ctx)
    {
        var group = GroupFromInput(input);
        var stream = Text(input, "logStreamName")!;
        var start = Long(input, "startTime") ?? long.MinValue;
        var end = Long(input, "endTime") ?? long.MaxValue;
        var limit = (int)(Long(input, "limit") ?? 10_000);
        var token = Text(input, "nextToken");
        bool forward;
        LogPosition from;
        if (token is null)
        {
            forward = Bool(input, "startFromHead");
            from = forward ? LogPosition.Start : LogPosition.End;
        }
        else
        {
            (forward, from) = DecodeStreamToken(token);
        }

        var (outcome, events) = await _store.ReadStreamAsync(group, stream, start, end, from, forward, limit, Now, ctx.Cancellation);
        Require(outcome);
        events = TrimToResponseSize(events, forward);
        var output = new JsonObject
        {
            ["events"] = new JsonArray(events.Select(e => (JsonNode?)new JsonObject
            {
                ["timestamp"] = e.Timestamp, ["message"] = e.Message, ["ingestionTime"] = e.IngestionTime,
            }).ToArray()),
        };

        // At either end the token in that direction stays the same, which is how clients know to stop.
        var forwardFrom = events.Count > 0 ? new LogPosition(events[^1].Timestamp, events[^1].Id) : from;
        var backwardFrom = events.Count > 0 ? new LogPosition(events[0].Timestamp, events[0].Id) : from;
        output["nextForwardToken"] = StreamToken(true, forwardFrom);
        output["nextBackwardToken"] = StreamToken(false, backwardFrom);
        return output;
    }

    private static IReadOnlyList<LogEventRecord> TrimToResponseSize(IReadOnlyList<LogEventRecord> events, bool forward)
    {
        long bytes = 0;
        var keep = 0;
        for (var n = 0; n < events.Count; n++)
        {
            var e = forward ? events[n] : events[events.Count - 1 - n];
            bytes += Encoding.UTF8.GetByteCount(e.Message) + EventOverheadBytes;
            if (bytes > MaxResponseBytes && keep > 0)
            {
                break;
            }

            keep++;
        }

        return keep == events.Count ? events : forward ? events.Take(keep).ToList() : events.Skip(events.Count - keep).ToList();
    }

    private async Task<JsonObject?> FilterLogEventsAsync(JsonObject input, OperationContext ctx)
    {
        var group = GroupFromInput(input);
        var names = (input["logStreamNames"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToList();
        var prefix = Text(input, "logStreamNamePrefix");
        if (names is not null && prefix is not null)
        {
            throw Invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
        }

        FilterPattern pattern;
        try
        {
            pattern = FilterPattern.Parse(Text(input, "filterPattern"));
        }
        catch (FilterPatternException e)
        {
            throw Invalid(e.Message);
        }

        var scan = new LogScan(names, prefix, Long(input, "startTime") ?? long.MinValue, Long(input, "endTime") ?? long.MaxValue);
        var limit = (int)(Long(input, "limit") ?? 10_000);
        var cursor = Text(input, "nextToken") is { } token ? DecodeScanToken(token) : LogPosition.Start;
        var found = new JsonArray();
        var scanned = 0;
        long bytes = 0;
        var exhausted = false;
        var now = Now;
        while (found.Count < limit && bytes < MaxResponseBytes && scanned < MaxScannedPerFilterCall)
        {
            var chunk = Math.Min(1_000, MaxScannedPerFilterCall - scanned);
            var (outcome, events) = await _store.ScanGroupAsync(group, scan, cursor, chunk, now, ctx.Cancellation);
            Require(outcome);
            var consumed = 0;
            foreach (var e in events)
            {
                scanned++;
                consumed++;
                cursor = new LogPosition(e.Timestamp, e.Id);
                if (pattern.Matches(e.Message))
                {
                    found.Add(new JsonObject
                    {
                        ["logStreamName"] = e.StreamName,
                        ["timestamp"] = e.Timestamp,
                        ["message"] = e.Message,
                        ["ingestionTime"] = e.IngestionTime,
                        ["eventId"] = EventId(e),
                    });
                    bytes += Encoding.UTF8.GetByteCount(e.Message) + EventOverheadBytes;
                    if (found.Count == limit || bytes >= MaxResponseBytes)
                    {
                        break;
                    }
                }
            }

            // A short chunk read to its end means the store has nothing after the cursor.
            if (events.Count < chunk && consumed == events.Count)
            {
                exhausted = true;
                break;
            }
        }

        var output = new JsonObject { ["events"] = found, ["searchedLogStreams"] = new JsonArray() };
        if (!exhausted)
        {
            output["nextToken"] = EncodeToken($"s{cursor.Timestamp}:{cursor.Id}");
        }

        return output;
    }

    // ---- helpers ----

    /// <summary>A FilterLogEvents event id: 56 digits, unique and ordered like the events.</summary>
    private static string EventId(LogEventRecord e) => $"{Math.Max(0, e.Timestamp):D20}{e.Id:D36}";

    private static string SequenceToken(long sequence) => sequence.ToString("D56", System.Globalization.CultureInfo.InvariantCulture);

    private static string StreamToken(bool forward, LogPosition at) =>
        $"{(forward ? 'f' : 'b')}/{EncodeToken($"{at.Timestamp}:{at.Id}")}/s";

    private static (bool Forward, LogPosition From) DecodeStreamToken(string token)
    {
        if (token.Length > 4 && token[0] is 'f' or 'b' && token[1] == '/' && token.EndsWith("/s", StringComparison.Ordinal)
            && TryPosition(DecodeToken(token[2..^2]), out var position))
        {
            return (token[0] == 'f', position);
        }

        throw InvalidToken();
    }

    private static LogPosition DecodeScanToken(string token) =>
        DecodeToken(token) is { Length: > 1 } text && text[0] == 's' && TryPosition(text[1..], out var position) ? position : throw InvalidToken();

    private static bool TryPosition(string? text, out LogPosition position)
    {
        position = default;
        var colon = text?.IndexOf(':') ?? -1;
        if (colon < 0 || !long.TryParse(text.AsSpan(0, colon), out var ts) || !long.TryParse(text.AsSpan(colon + 1), out var id))
        {
            return false;
        }

        position = new LogPosition(ts, id);
        return true;
    }

    private static int DecodeOffset(string? token)
    {
        if (token is null)
        {
            return 0;
        }

        return DecodeToken(token) is { Length: > 1 } text && text[0] == 'o' && int.TryParse(text.AsSpan(1), out var offset) && offset >= 0
            ? offset
            : throw InvalidToken();
    }

    private static string EncodeToken(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? DecodeToken(string? token)
    {
        if (token is null)
        {
            return null;
        }

        var b64 = token.Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(b64));
        }
        catch (FormatException)
        {
            throw InvalidToken();
        }
    }

    private string GroupFromInput(JsonObject input)
    {
        var name = Text(input, "logGroupName");
        var identifier = Text(input, "logGroupIdentifier");
        if (name is not null && identifier is not null)
        {
            throw Invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        }

        return name ?? (identifier is not null ? GroupNameOf(identifier) : throw Invalid("Either logGroupName or logGroupIdentifier must be specified."));
    }

    /// <summary>A log group identifier is its name or its ARN (with or without the trailing <c>:*</c>).</summary>
    private string GroupNameOf(string identifier) => identifier.StartsWith("arn:", StringComparison.Ordinal) ? GroupOfResourceArn(identifier) : identifier;

    private async ValueTask<LogGroupRecord> RequireGroupAsync(string name, OperationContext ctx) =>
        await _store.GetGroupAsync(name, ctx.Cancellation) ?? throw NoSuchGroup();

    private static void Require(LogStoreOutcome outcome)
    {
        switch (outcome)
        {
            case LogStoreOutcome.NoSuchGroup:
                throw NoSuchGroup();
            case LogStoreOutcome.NoSuchStream:
                throw new ServiceException("ResourceNotFoundException", "The specified log stream does not exist.");
        }
    }

    private static ServiceException NoSuchGroup() => new("ResourceNotFoundException", "The specified log group does not exist.");

    private static ServiceException Invalid(string message) => new("InvalidParameterException", message);

    private static ServiceException InvalidToken() => Invalid("The specified nextToken is invalid.");

    private static string? Text(JsonObject input, string name) => input[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static long? Long(JsonObject input, string name) =>
        input[name] is JsonValue v ? v.TryGetValue<long>(out var l) ? l : v.TryGetValue<int>(out var i) ? i : null : null;

    private static bool Bool(JsonObject input, string name) => input[name] is JsonValue v && v.TryGetValue<bool>(out var b) && b;

    private static Dictionary<string, string> TagsOf(JsonObject? tags) =>
        tags?.ToDictionary(t => t.Key, t => t.Value!.GetValue<string>(), StringComparer.Ordinal) ?? new Dictionary<string, string>();

    private static List<string> KeysOf(JsonNode? keys) => (keys as JsonArray)?.Select(k => k!.GetValue<string>()).ToList() ?? [];
}
