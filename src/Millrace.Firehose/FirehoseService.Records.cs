using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Millrace.Firehose.Delivery;
using Millrace.Protocol.Wire;
using Millrace.Storage;

namespace Millrace.Firehose;

public sealed partial class FirehoseService
{
    /// <summary>PutRecordBatch takes at most this many bytes of data in one call (the docs' 4 MiB).</summary>
    internal const int MaxBatchBytes = 4 * 1024 * 1024;

    private async Task<JsonObject?> PutRecordAsync(JsonObject input, OperationContext ctx)
    {
        var stream = LiveForPut(Text(input, "DeliveryStreamName")!);
        var data = ModelDocument.GetBytes((input["Record"] as JsonObject)?["Data"]) ?? [];
        var entries = new[] { new AppendEntry(0, ReadOnlyMemory<byte>.Empty, data) };
        var results = new AppendedRecord[1];
        await AppendAsync(stream, entries, results, ctx.Cancellation);
        return new JsonObject { ["RecordId"] = RecordId(stream.BufferId, results[0].Position), ["Encrypted"] = stream.EncryptionKeyId is not null };
    }

    private async Task<JsonObject?> PutRecordBatchAsync(JsonObject input, OperationContext ctx)
    {
        var stream = LiveForPut(Text(input, "DeliveryStreamName")!);
        var records = input["Records"]!.AsArray();
        var entries = new AppendEntry[records.Count];
        long total = 0;
        for (var i = 0; i < records.Count; i++)
        {
            var data = ModelDocument.GetBytes(records[i]?["Data"]) ?? [];
            total += data.Length;
            entries[i] = new AppendEntry(0, ReadOnlyMemory<byte>.Empty, data);
        }

        if (total > MaxBatchBytes)
        {
            throw Invalid($"Records size {total} bytes exceeds the limit of {MaxBatchBytes} bytes (4 MiB) for one PutRecordBatch call.");
        }

        var results = new AppendedRecord[entries.Length];
        await AppendAsync(stream, entries, results, ctx.Cancellation);
        var responses = new JsonArray();
        foreach (var result in results)
        {
            responses.Add(new JsonObject { ["RecordId"] = RecordId(stream.BufferId, result.Position) });
        }

        return new JsonObject { ["FailedPutCount"] = 0, ["Encrypted"] = stream.EncryptionKeyId is not null, ["RequestResponses"] = responses };
    }

    private LiveStream LiveForPut(string name)
    {
        var stream = _engine.Find(name) ?? throw NotFound(name);
        if (stream.Type != "DirectPut")
        {
            throw Invalid($"This operation is not permitted on {stream.Type} delivery stream type.");
        }

        if (stream.Status != "ACTIVE")
        {
            throw new ServiceException("ResourceNotFoundException", $"Firehose {name} under account {_options.AccountId} is not ACTIVE.");
        }

        return stream;
    }

    /// <summary>Appends durably: the answer is sent only after the buffer's fsync, so an acknowledged record survives kill -9.</summary>
    private async Task AppendAsync(LiveStream stream, AppendEntry[] entries, AppendedRecord[] results, CancellationToken ct)
    {
        try
        {
            await _buffers.Records.AppendAsync(stream.BufferId, entries, results, stream.EncryptionKeyId, ct);
        }
        catch (ShardUnavailableException)
        {
            throw NotFound(stream.Name);
        }
        catch (EncryptionKeyUnavailableException e)
        {
            throw new ServiceException("InvalidKMSResourceException", $"The KMS key {e.KeyId} of the delivery stream is not available.");
        }
    }

    /// <summary>An opaque record id as Firehose gives: here the buffer and the record's position in it, base64.</summary>
    private static string RecordId(long bufferId, ulong position)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, bufferId);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], position);
        return Convert.ToBase64String(bytes);
    }
}
