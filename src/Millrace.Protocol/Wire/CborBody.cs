using System.Formats.Cbor;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// CBOR bodies to and from the document, by shape: smithy rpc-v2-cbor (tag 1 + epoch seconds) and Kinesis's
/// <c>application/x-amz-cbor-1.1</c> (tag 1 + integer epoch milliseconds, as the Java SDK writes them).
/// Malformed CBOR is a <c>SerializationException</c>.
/// </summary>
public static class CborBody
{
    public static JsonObject ReadStructure(ShapeModel? shape, ReadOnlyMemory<byte> body, bool millisecondTimestamps = false)
    {
        if (body.IsEmpty)
        {
            return [];
        }

        var reader = new CborReader(body, CborConformanceMode.Lax, allowMultipleRootLevelValues: false);
        try
        {
            if (reader.PeekState() != CborReaderState.StartMap)
            {
                throw ServiceException.Serialization(null);
            }

            var result = shape is null ? SkipToEmpty(reader) : (JsonObject)Read(reader, shape, millisecondTimestamps, 0)!;
            if (reader.BytesRemaining != 0)
            {
                throw ServiceException.Serialization(null);
            }

            return result;
        }
        catch (Exception ex) when (ex is CborContentException or InvalidOperationException or FormatException or OverflowException)
        {
            throw ServiceException.Serialization(null);
        }
    }

    private static JsonObject SkipToEmpty(CborReader reader)
    {
        reader.SkipValue();
        return [];
    }

    private static JsonNode? Read(CborReader reader, ShapeModel shape, bool ms, int depth)
    {
        if (depth > JsonBody.MaxDepth)
        {
            throw ServiceException.Serialization(null);
        }

        var state = reader.PeekState();
        if (state is CborReaderState.Null or CborReaderState.Undefined)
        {
            reader.ReadNull();
            return null;
        }

        switch (shape.Type)
        {
            case ShapeType.Structure:
            {
                var obj = new JsonObject();
                reader.ReadStartMap();
                while (reader.PeekState() != CborReaderState.EndMap)
                {
                    var name = reader.ReadTextString();
                    var member = shape.FindMember(name);
                    if (member is null)
                    {
                        reader.SkipValue();
                        continue;
                    }

                    var value = Read(reader, member.Shape, ms, depth + 1);
                    if (value is not null)
                    {
                        obj[member.Name] = value;
                    }
                }

                reader.ReadEndMap();
                return obj;
            }

            case ShapeType.Map:
            {
                var obj = new JsonObject();
                reader.ReadStartMap();
                while (reader.PeekState() != CborReaderState.EndMap)
                {
                    var key = reader.ReadTextString();
                    obj[key] = Read(reader, shape.MapValue!.Shape, ms, depth + 1);
                }

                reader.ReadEndMap();
                return obj;
            }

            case ShapeType.List:
            {
                var list = new JsonArray();
                reader.ReadStartArray();
                while (reader.PeekState() != CborReaderState.EndArray)
                {
                    list.Add(Read(reader, shape.ListMember!.Shape, ms, depth + 1));
                }

                reader.ReadEndArray();
                return list;
            }

            case ShapeType.String:
                return JsonValue.Create(ReadText(reader));
            case ShapeType.Blob:
                return JsonValue.Create(state == CborReaderState.TextString ? System.Text.Encoding.UTF8.GetBytes(reader.ReadTextString()) : ReadBytes(reader));
            case ShapeType.Boolean:
                return JsonValue.Create(reader.ReadBoolean());
            case ShapeType.Integer:
            case ShapeType.Long:
                return JsonValue.Create(state is CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger ? reader.ReadInt64() : (long)Math.Floor(reader.ReadDouble()));
            case ShapeType.Float:
            case ShapeType.Double:
                return JsonValue.Create(state is CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger ? (double)reader.ReadInt64() : reader.ReadDouble());
            case ShapeType.Timestamp:
                if (state == CborReaderState.Tag)
                {
                    var tag = reader.ReadTag();
                    if (tag == CborTag.DateTimeString)
                    {
                        return JsonValue.Create(Timestamps.Parse(reader.ReadTextString(), Timestamps.Iso8601) ?? throw ServiceException.Serialization(null));
                    }
                }

                var next = reader.PeekState();
                if (next is CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger)
                {
                    var n = reader.ReadInt64();
                    return JsonValue.Create(ms ? DateTimeOffset.FromUnixTimeMilliseconds(n) : DateTimeOffset.FromUnixTimeSeconds(n));
                }

                return JsonValue.Create(Timestamps.FromEpochSeconds(reader.ReadDouble()));
            default:
                return ReadAny(reader, depth);
        }
    }

    private static string ReadText(CborReader reader)
    {
        if (reader.PeekState() == CborReaderState.StartIndefiniteLengthTextString)
        {
            var sb = new System.Text.StringBuilder();
            reader.ReadStartIndefiniteLengthTextString();
            while (reader.PeekState() != CborReaderState.EndIndefiniteLengthTextString)
            {
                sb.Append(reader.ReadTextString());
            }

            reader.ReadEndIndefiniteLengthTextString();
            return sb.ToString();
        }

        return reader.ReadTextString();
    }

    private static byte[] ReadBytes(CborReader reader) => reader.ReadByteString();

    /// <summary>A schemaless value (document shapes).</summary>
    private static JsonNode? ReadAny(CborReader reader, int depth)
    {
        if (depth > JsonBody.MaxDepth)
        {
            throw ServiceException.Serialization(null);
        }

        switch (reader.PeekState())
        {
            case CborReaderState.StartMap:
                var obj = new JsonObject();
                reader.ReadStartMap();
                while (reader.PeekState() != CborReaderState.EndMap)
                {
                    obj[reader.ReadTextString()] = ReadAny(reader, depth + 1);
                }

                reader.ReadEndMap();
                return obj;
            case CborReaderState.StartArray:
                var list = new JsonArray();
                reader.ReadStartArray();
                while (reader.PeekState() != CborReaderState.EndArray)
                {
                    list.Add(ReadAny(reader, depth + 1));
                }

                reader.ReadEndArray();
                return list;
            case CborReaderState.TextString or CborReaderState.StartIndefiniteLengthTextString:
                return JsonValue.Create(ReadText(reader));
            case CborReaderState.ByteString:
                return JsonValue.Create(reader.ReadByteString());
            case CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger:
                return JsonValue.Create(reader.ReadInt64());
            case CborReaderState.Boolean:
                return JsonValue.Create(reader.ReadBoolean());
            case CborReaderState.Null or CborReaderState.Undefined:
                reader.ReadNull();
                return null;
            default:
                return JsonValue.Create(reader.ReadDouble());
        }
    }

    /// <summary>Writes a structure document as CBOR (definite lengths).</summary>
    public static byte[] WriteStructure(ShapeModel? shape, JsonObject? document, bool millisecondTimestamps = false)
    {
        var writer = new CborWriter(CborConformanceMode.Lax, convertIndefiniteLengthEncodings: false);
        if (shape is null || document is null)
        {
            writer.WriteStartMap(0);
            writer.WriteEndMap();
        }
        else
        {
            Write(writer, shape, document, millisecondTimestamps);
        }

        return writer.Encode();
    }

    /// <summary>An error body: <c>{"__type": code, "message": text}</c> plus the error's extra fields.</summary>
    internal static byte[] WriteError(string type, string? message, JsonObject? fields)
    {
        var writer = new CborWriter(CborConformanceMode.Lax);
        var count = 1 + (message is null ? 0 : 1) + (fields?.Count ?? 0);
        writer.WriteStartMap(count);
        writer.WriteTextString("__type");
        writer.WriteTextString(type);
        if (message is not null)
        {
            writer.WriteTextString("message");
            writer.WriteTextString(message);
        }

        if (fields is not null)
        {
            foreach (var (k, v) in fields)
            {
                writer.WriteTextString(k);
                WriteAny(writer, v);
            }
        }

        writer.WriteEndMap();
        return writer.Encode();
    }

    private static void Write(CborWriter writer, ShapeModel shape, JsonNode value, bool ms)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure when value is JsonObject obj:
                var present = shape.Members.Where(m => obj.TryGetPropertyValue(m.Name, out var v) && v is not null).ToList();
                writer.WriteStartMap(present.Count);
                foreach (var member in present)
                {
                    writer.WriteTextString(member.WireName);
                    Write(writer, member.Shape, obj[member.Name]!, ms);
                }

                writer.WriteEndMap();
                break;
            case ShapeType.Map when value is JsonObject map:
                writer.WriteStartMap(map.Count);
                foreach (var (key, item) in map)
                {
                    writer.WriteTextString(key);
                    if (item is null)
                    {
                        writer.WriteNull();
                    }
                    else
                    {
                        Write(writer, shape.MapValue!.Shape, item, ms);
                    }
                }

                writer.WriteEndMap();
                break;
            case ShapeType.List when value is JsonArray list:
                writer.WriteStartArray(list.Count);
                foreach (var item in list)
                {
                    if (item is null)
                    {
                        writer.WriteNull();
                    }
                    else
                    {
                        Write(writer, shape.ListMember!.Shape, item, ms);
                    }
                }

                writer.WriteEndArray();
                break;
            case ShapeType.String:
                writer.WriteTextString(ModelDocument.GetString(value) ?? "");
                break;
            case ShapeType.Boolean:
                writer.WriteBoolean(ModelDocument.GetBoolean(value) == true);
                break;
            case ShapeType.Integer:
            case ShapeType.Long:
                writer.WriteInt64(ModelDocument.GetInt64(value) ?? 0);
                break;
            case ShapeType.Float:
            case ShapeType.Double:
                writer.WriteDouble(ModelDocument.GetDouble(value) ?? 0);
                break;
            case ShapeType.Blob:
                writer.WriteByteString(ModelDocument.GetBytes(value) ?? []);
                break;
            case ShapeType.Timestamp:
                var time = ModelDocument.GetTimestamp(value) ?? DateTimeOffset.UnixEpoch;
                writer.WriteTag(CborTag.UnixTimeSeconds);
                if (ms)
                {
                    writer.WriteInt64(time.ToUnixTimeMilliseconds());
                }
                else if (time.ToUnixTimeMilliseconds() % 1000 == 0)
                {
                    writer.WriteInt64(time.ToUnixTimeSeconds());
                }
                else
                {
                    writer.WriteDouble(Timestamps.ToEpochSeconds(time));
                }

                break;
            default:
                WriteAny(writer, value);
                break;
        }
    }

    private static void WriteAny(CborWriter writer, JsonNode? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNull();
                break;
            case JsonObject obj:
                writer.WriteStartMap(obj.Count);
                foreach (var (k, v) in obj)
                {
                    writer.WriteTextString(k);
                    WriteAny(writer, v);
                }

                writer.WriteEndMap();
                break;
            case JsonArray array:
                writer.WriteStartArray(array.Count);
                foreach (var v in array)
                {
                    WriteAny(writer, v);
                }

                writer.WriteEndArray();
                break;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case System.Text.Json.JsonValueKind.True:
                        writer.WriteBoolean(true);
                        break;
                    case System.Text.Json.JsonValueKind.False:
                        writer.WriteBoolean(false);
                        break;
                    case System.Text.Json.JsonValueKind.Number:
                        if (v.TryGetValue<long>(out var l))
                        {
                            writer.WriteInt64(l);
                        }
                        else
                        {
                            writer.WriteDouble(ModelDocument.GetDouble(v) ?? 0);
                        }

                        break;
                    default:
                        if (v.TryGetValue<byte[]>(out var bytes))
                        {
                            writer.WriteByteString(bytes);
                        }
                        else
                        {
                            writer.WriteTextString(ModelDocument.GetString(v) ?? "");
                        }

                        break;
                }

                break;
        }
    }
}
