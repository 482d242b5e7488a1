using Millrace.Gateway;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;

namespace Millrace.Lambda.Mappings;

/// <summary>Where a mapping's records of one shard come from: GetRecords polling, or a SubscribeToShard push for a consumer ARN.</summary>
internal interface IShardReader : IAsyncDisposable
{
    /// <summary>The next records (none when nothing is new); <c>Ended</c> once a closed shard has been read to its end.</summary>
    Task<(List<StreamRecord> Records, bool Ended)> ReadAsync(CancellationToken ct);
}

/// <summary>What both readers need: where reading starts, and the records of a page in the Kinesis API's JSON.</summary>
internal abstract class ShardReader(IKinesisCalls kinesis, JsonObject mapping, string streamArn, string shardId, string? checkpoint, bool childShard) : IShardReader
{
    protected IKinesisCalls Kinesis { get; } = kinesis;

    protected string StreamArn { get; } = streamArn;

    protected string ShardId { get; } = shardId;

    /// <summary>The last record returned, so that a new iterator or subscription resumes right after it.</summary>
    protected string? LastRead { get; set; } = checkpoint;

    protected int BatchSize => (int)mapping["BatchSize"]!.GetValue<long>();

    public abstract Task<(List<StreamRecord> Records, bool Ended)> ReadAsync(CancellationToken ct);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>(type, sequence number, timestamp in epoch seconds) to start from, in the Kinesis API's terms.</summary>
    protected (string Type, string? Sequence, JsonNode? Timestamp) StartingPosition()
    {
        if (LastRead is not null)
        {
            return ("AFTER_SEQUENCE_NUMBER", LastRead, null);
        }

        // A child of a shard this mapping read is read from its start, whatever the mapping's starting position.
        if (childShard)
        {
            return ("TRIM_HORIZON", null, null);
        }

        var position = mapping["StartingPosition"]!.GetValue<string>();
        if (position == "AT_TIMESTAMP")
        {
            return (position, null, mapping["StartingPositionTimestamp"]!.DeepClone());
        }

        if (position == "LATEST" && mapping[EventSourceMappings.LatestFromMs] is JsonValue from)
        {
            return ("AT_TIMESTAMP", null, JsonValue.Create(from.GetValue<long>() / 1000.0));
        }

        return (position, null, null);
    }

    /// <summary>
    /// The records of a GetRecords page or a SubscribeToShardEvent, kept as tokens of <paramref name="page"/>, and
    /// the page's other string members (NextShardIterator, ContinuationSequenceNumber).
    /// </summary>
    protected (List<StreamRecord> Records, Dictionary<string, string> Strings) Page(byte[] page)
    {
        var records = new List<StreamRecord>();
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(page);
        reader.Read(); // {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (name == "Records" && reader.TokenType == JsonTokenType.StartArray)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    records.Add(Record(page, ref reader));
                }
            }
            else if (reader.TokenType == JsonTokenType.String)
            {
                strings[name] = reader.GetString()!;
            }
            else
            {
                reader.Skip();
            }
        }

        if (records.Count > 0)
        {
            LastRead = records[^1].SequenceNumber;
        }

        return (records, strings);
    }

    private static StreamRecord Record(byte[] page, ref Utf8JsonReader reader)
    {
        ReadOnlyMemory<byte> sequence = default, key = default, data = default, arrivalRaw = default;
        double arrival = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var member = reader.ValueSpan;
            reader.Read();
            if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
                continue;
            }

            // A string token's bytes are its value between the quotes, escaped as written: with the quotes, the token.
            var quoted = reader.TokenType == JsonTokenType.String ? 2 : 0;
            var raw = page.AsMemory((int)reader.TokenStartIndex, reader.ValueSpan.Length + quoted);
            if (member.SequenceEqual("SequenceNumber"u8))
            {
                sequence = raw;
            }
            else if (member.SequenceEqual("PartitionKey"u8))
            {
                key = raw;
            }
            else if (member.SequenceEqual("Data"u8))
            {
                data = raw;
            }
            else if (member.SequenceEqual("ApproximateArrivalTimestamp"u8))
            {
                arrival = reader.GetDouble();
                arrivalRaw = raw;
            }
        }

        return new StreamRecord(sequence, key, data, arrival, arrivalRaw);
    }
}

/// <summary>GetRecords with shard iterators; the next page is read while the function runs the current one.</summary>
internal sealed class PollingShardReader(IKinesisCalls kinesis, JsonObject mapping, string streamArn, string shardId, string? checkpoint, bool childShard)
    : ShardReader(kinesis, mapping, streamArn, shardId, checkpoint, childShard)
{
    private string? _iterator;
    private Task<(List<StreamRecord> Records, string? Next)>? _ahead;

    public override async Task<(List<StreamRecord> Records, bool Ended)> ReadAsync(CancellationToken ct)
    {
        (List<StreamRecord> Records, string? Next) output;
        try
        {
            _iterator ??= await IteratorAsync(ct);
            output = await (_ahead ?? GetRecordsAsync(_iterator, ct));
        }
        catch (ServiceException e) when (e.Code == "ProvisionedThroughputExceededException")
        {
            // Lambda's reads count against the shard's limits, as on AWS; the iterator stays valid.
            _ahead = null;
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            return ([], false);
        }
        catch (ServiceException e) when (e.Code == "ExpiredIteratorException")
        {
            // Resume right after what was read: nothing is read twice.
            _ahead = null;
            _iterator = null;
            return ([], false);
        }

        _ahead = null;
        if (output.Next is null)
        {
            return (output.Records, true);
        }

        _iterator = output.Next;
        if (output.Records.Count > 0)
        {
            _ahead = GetRecordsAsync(output.Next, ct);
        }

        return (output.Records, false);
    }

    private async Task<string> IteratorAsync(CancellationToken ct)
    {
        var (type, sequence, timestamp) = StartingPosition();
        var input = new JsonObject { ["StreamARN"] = StreamArn, ["ShardId"] = ShardId, ["ShardIteratorType"] = type };
        if (sequence is not null)
        {
            input["StartingSequenceNumber"] = sequence;
        }

        if (timestamp is not null)
        {
            input["Timestamp"] = timestamp;
        }

        var output = await Kinesis.CallAsync("GetShardIterator", input, ct);
        return output["ShardIterator"]!.GetValue<string>();
    }

    private async Task<(List<StreamRecord> Records, string? Next)> GetRecordsAsync(string iterator, CancellationToken ct)
    {
        var output = await Kinesis.CallUtf8Async("GetRecords", new JsonObject { ["ShardIterator"] = iterator, ["Limit"] = Math.Min(10_000, BatchSize) }, ct);
        var (records, strings) = Page(output);
        return (records, strings.GetValueOrDefault("NextShardIterator"));
    }

    public override async ValueTask DisposeAsync()
    {
        if (_ahead is { } ahead)
        {
            await ahead.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}

/// <summary>
/// A registered consumer's enhanced fan-out: records are pushed by SubscribeToShard as they arrive. A subscription
/// lasts 5 minutes, so a new one is opened after the last record read whenever one ends.
/// </summary>
internal sealed class SubscriptionShardReader(IKinesisCalls kinesis, JsonObject mapping, string consumerArn, string streamArn, string shardId,
    string? checkpoint, bool childShard) : ShardReader(kinesis, mapping, streamArn, shardId, checkpoint, childShard)
{
    private static readonly TimeSpan EventWait = TimeSpan.FromMilliseconds(250);
    private IAsyncEnumerator<byte[]>? _events;
    private Task<bool>? _move;

    public override async Task<(List<StreamRecord> Records, bool Ended)> ReadAsync(CancellationToken ct)
    {
        try
        {
            if (_events is null)
            {
                var (type, sequence, timestamp) = StartingPosition();
                var position = new JsonObject { ["Type"] = type };
                if (sequence is not null)
                {
                    position["SequenceNumber"] = sequence;
                }

                if (timestamp is not null)
                {
                    position["Timestamp"] = timestamp;
                }

                var input = new JsonObject { ["ConsumerARN"] = consumerArn, ["ShardId"] = ShardId, ["StartingPosition"] = position };
                _events = Kinesis.SubscribeToShardAsync(input, ct).GetAsyncEnumerator(ct);
            }

            // Wait a little at most, so a mapping can close its tumbling windows between events.
            _move ??= _events.MoveNextAsync().AsTask();
            if (await Task.WhenAny(_move, Task.Delay(EventWait, ct)) != _move)
            {
                return ([], false);
            }

            var moved = await _move;
            _move = null;
            if (!moved)
            {
                await CloseAsync();
                return ([], false);
            }

            var (records, strings) = Page(_events.Current);

            // The end of a closed shard: the event names the children and has no continuation.
            return (records, !strings.ContainsKey("ContinuationSequenceNumber"));
        }
        catch (ServiceException e) when (e.Code is "ResourceInUseException" or "LimitExceededException" or "InternalFailure")
        {
            // Another subscription holds the shard for a few seconds, or the server is busy: subscribe again shortly.
            await CloseAsync();
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            return ([], false);
        }
    }

    private async ValueTask CloseAsync()
    {
        if (_events is { } events)
        {
            _events = null;
            if (_move is { } move)
            {
                _move = null;
                await move.ContinueWith(_ => { }, TaskScheduler.Default);
            }

            await events.DisposeAsync();
        }
    }

    public override ValueTask DisposeAsync() => CloseAsync();
}
