using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Firehose.Delivery;
using Millrace.Protocol.Wire;
using Millrace.Storage;

namespace Millrace.Firehose;

public sealed partial class FirehoseService
{
    /// <summary>PutRecordBatch takes at most this many bytes of data in one call (the docs' 4 MiB).</summary>
    internal const int MaxBatchBytes = 4 * 1024 * 1024;

    /// <summary>The model's limits: 500 records a call, 1,000 KiB a record.</summary>
    private const int MaxBatchRecords = 500;
    private const int MaxRecordBytes = 1_024_000;

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

    /// <summary>
    /// PutRecordBatch without the generic document: a plain, valid request is read with <see cref="Utf8JsonReader"/>,
    /// its records decoded into one pooled slab, and the answer written directly. Anything unusual (another member,
    /// an escaped string, a limit crossed) goes to the generic path, which gives AWS's exact validation messages.
    /// </summary>
    private async ValueTask<bool> PutRecordBatchFastAsync(ReadOnlyMemory<byte> body, IBufferWriter<byte> output, OperationContext ctx)
    {
        // Decoded base64 is shorter than its JSON text, so the body's length bounds the slab.
        var slab = ArrayPool<byte>.Shared.Rent(body.Length);
        var entries = ArrayPool<AppendEntry>.Shared.Rent(MaxBatchRecords);
        var results = ArrayPool<AppendedRecord>.Shared.Rent(MaxBatchRecords);
        try
        {
            string name;
            int count;
            try
            {
                if (!TryReadBatch(body.Span, slab, entries, out name, out count))
                {
                    return false;
                }
            }
            catch (JsonException)
            {
                // Malformed JSON: the generic path answers it with AWS's SerializationException.
                return false;
            }

            var stream = LiveForPut(name);
            await AppendAsync(stream, entries.AsMemory(0, count), results.AsMemory(0, count), ctx.Cancellation);
            using var w = new Utf8JsonWriter(output);
            w.WriteStartObject();
            w.WriteNumber("FailedPutCount", 0);
            w.WriteBoolean("Encrypted", stream.EncryptionKeyId is not null);
            w.WriteStartArray("RequestResponses");
            Span<byte> id = stackalloc byte[16];
            for (var i = 0; i < count; i++)
            {
                RecordIdBytes(stream.BufferId, results[i].Position, id);
                w.WriteStartObject();
                w.WriteBase64String("RecordId", id);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(slab);
            ArrayPool<AppendEntry>.Shared.Return(entries, clearArray: true);
            ArrayPool<AppendedRecord>.Shared.Return(results);
        }
    }

    /// <summary>Reads <c>{"DeliveryStreamName":"...","Records":[{"Data":"base64"},...]}</c> (either order); false for anything else.</summary>
    private static bool TryReadBatch(ReadOnlySpan<byte> body, byte[] slab, AppendEntry[] entries, out string name, out int count)
    {
        name = "";
        count = 0;
        var used = 0;
        long total = 0;
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        bool named = false, recorded = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("DeliveryStreamName"u8) && !named)
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !IsStreamName(reader.ValueSpan))
                {
                    return false;
                }

                name = reader.GetString()!;
                named = true;
            }
            else if (reader.ValueTextEquals("Records"u8) && !recorded)
            {
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
                {
                    return false;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    // One member, Data: a base64 string of at most 1,000 KiB decoded.
                    if (count == MaxBatchRecords || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("Data"u8)
                        || !reader.Read() || reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.HasValueSequence
                        || Base64.DecodeFromUtf8(reader.ValueSpan, slab.AsSpan(used), out _, out var written) != OperationStatus.Done
                        || written > MaxRecordBytes || !reader.Read() || reader.TokenType != JsonTokenType.EndObject)
                    {
                        return false;
                    }

                    entries[count++] = new AppendEntry(0, ReadOnlyMemory<byte>.Empty, slab.AsMemory(used, written));
                    used += written;
                    total += written;
                }

                if (reader.TokenType != JsonTokenType.EndArray || count == 0)
                {
                    return false;
                }

                recorded = true;
            }
            else
            {
                return false;
            }
        }

        return reader.TokenType == JsonTokenType.EndObject && named && recorded && total <= MaxBatchBytes && !reader.Read();
    }

    /// <summary>The model's DeliveryStreamName: 1 to 64 of <c>[a-zA-Z0-9_.-]</c>.</summary>
    private static bool IsStreamName(ReadOnlySpan<byte> name)
    {
        if (name.Length is 0 or > 64)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit((char)c) || c is (byte)'_' or (byte)'.' or (byte)'-'))
            {
                return false;
            }
        }

        return true;
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
    private async Task AppendAsync(LiveStream stream, ReadOnlyMemory<AppendEntry> entries, Memory<AppendedRecord> results, CancellationToken ct)
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
        RecordIdBytes(bufferId, position, bytes);
        return Convert.ToBase64String(bytes);
    }

    private static void RecordIdBytes(long bufferId, ulong position, Span<byte> bytes)
    {
        BinaryPrimitives.WriteInt64BigEndian(bytes, bufferId);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], position);
    }
}
