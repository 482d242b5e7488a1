using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// JSON bodies (JSON 1.0/1.1, rest-json) to and from the document, by shape. Reading checks JSON types the way the AWS
/// JSON deserializer does and stops at the first mismatch with a <c>SerializationException</c> in its wording (the same
/// wording as <see cref="ModelValidator"/>); unknown members are dropped and nulls count as absent.
/// </summary>
public static class JsonBody
{
    public const int MaxDepth = 64;

    /// <summary>AWS writes quotes, '+' and non-ASCII as they are; only what JSON requires is escaped.</summary>
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal static readonly JsonSerializerOptions SerializerOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Parses a request body into a structure document (an empty body is an empty structure).</summary>
    public static JsonObject ReadStructure(ShapeModel? shape, ReadOnlyMemory<byte> body, Func<MemberModel, bool>? bodyMember = null)
    {
        if (IsBlank(body.Span))
        {
            return [];
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException)
        {
            throw ServiceException.Serialization(null);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw ServiceException.Serialization(root.ValueKind == JsonValueKind.Array ? ModelValidator.Messages.StartOfList : null);
            }

            try
            {
                return shape is null ? [] : ReadObject(shape, root, bodyMember);
            }
            catch (InvalidOperationException)
            {
                // Types are checked before reading, so this is a string System.Text.Json cannot decode.
                throw ServiceException.Serialization(JsonText.UndecodableString);
            }
        }
    }

    private static bool IsBlank(ReadOnlySpan<byte> body)
    {
        foreach (var b in body)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }

        return true;
    }

    public static JsonObject ReadObject(ShapeModel shape, JsonElement obj, Func<MemberModel, bool>? bodyMember = null)
    {
        var result = new JsonObject();
        foreach (var property in obj.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            foreach (var member in shape.Members)
            {
                if (member.WireName == property.Name && (bodyMember is null || bodyMember(member)))
                {
                    result[member.Name] = Read(member.Shape, property.Value, member.TimestampFormat);
                    break;
                }
            }
        }

        return result;
    }

    public static JsonNode? Read(ShapeModel shape, JsonElement value, string? timestampFormat = null)
    {
        var kind = value.ValueKind;
        if (kind == JsonValueKind.Null)
        {
            return null;
        }

        switch (shape.Type)
        {
            case ShapeType.Structure:
                return kind switch
                {
                    JsonValueKind.Object => ReadObject(shape, value),
                    JsonValueKind.Array => throw ServiceException.Serialization(ModelValidator.Messages.StartOfList),
                    _ => throw ServiceException.Serialization(ModelValidator.Messages.ExpectedNull),
                };
            case ShapeType.List:
                if (kind == JsonValueKind.Array)
                {
                    var list = new JsonArray();
                    foreach (var item in value.EnumerateArray())
                    {
                        list.Add(Read(shape.ListMember!.Shape, item, shape.ListMember.TimestampFormat));
                    }

                    return list;
                }

                throw ServiceException.Serialization(kind == JsonValueKind.Object ? ModelValidator.Messages.StartOfStructure : ModelValidator.Messages.ExpectedList);
            case ShapeType.Map:
                if (kind == JsonValueKind.Object)
                {
                    var map = new JsonObject();
                    foreach (var property in value.EnumerateObject())
                    {
                        map[property.Name] = Read(shape.MapValue!.Shape, property.Value, shape.MapValue.TimestampFormat);
                    }

                    return map;
                }

                throw ServiceException.Serialization(kind == JsonValueKind.Array ? ModelValidator.Messages.StartOfList : ModelValidator.Messages.ExpectedMap);
            case ShapeType.String:
                return kind == JsonValueKind.String ? JsonValue.Create(value.GetString()!) : throw Mismatch(kind, "a String");
            case ShapeType.Integer:
            case ShapeType.Long:
                if (kind != JsonValueKind.Number)
                {
                    throw Mismatch(kind, shape.Type == ShapeType.Integer ? "an Integer" : "an Long");
                }

                var n = value.TryGetInt64(out var whole) ? whole : Floor(value.GetDouble());
                return JsonValue.Create(shape.Type == ShapeType.Integer ? Math.Clamp(n, int.MinValue, int.MaxValue) : n);
            case ShapeType.Float:
            case ShapeType.Double:
                if (kind == JsonValueKind.Number)
                {
                    return JsonValue.Create(value.GetDouble());
                }

                if (kind == JsonValueKind.String && value.GetString() is "NaN" or "Infinity" or "-Infinity")
                {
                    Timestamps.TryParseDouble(value.GetString()!, out var special);
                    return JsonValue.Create(special);
                }

                throw Mismatch(kind, "an Double");
            case ShapeType.Timestamp:
                if (kind == JsonValueKind.Number)
                {
                    return JsonValue.Create(Timestamps.FromEpochSeconds(value.GetDouble()));
                }

                // JSON protocols carry epoch seconds; a string only where the model names a text format.
                if (kind == JsonValueKind.String && (timestampFormat ?? shape.TimestampFormat) is Timestamps.Iso8601 or Timestamps.Rfc822
                    && Timestamps.Parse(value.GetString()!, timestampFormat ?? shape.TimestampFormat) is { } parsed)
                {
                    return JsonValue.Create(parsed);
                }

                throw Mismatch(kind, "milliseconds since epoch");
            case ShapeType.Boolean:
                if (kind is JsonValueKind.True or JsonValueKind.False)
                {
                    return JsonValue.Create(kind == JsonValueKind.True);
                }

                if (kind == JsonValueKind.String)
                {
                    var s = value.GetString()!.ToUpperInvariant();
                    return s switch
                    {
                        "TRUE" or "1" or "YES" => JsonValue.Create(true),
                        "FALSE" or "0" or "NO" => JsonValue.Create(false),
                        _ => throw ServiceException.Serialization("STRING_VALUE can not be converted to an Boolean"),
                    };
                }

                throw Mismatch(kind, "a Boolean");
            case ShapeType.Blob:
                if (kind != JsonValueKind.String)
                {
                    throw Mismatch(kind, "a Blob");
                }

                var text = value.GetString()!;
                var utf8 = Encoding.UTF8.GetBytes(text);
                if (ModelValidator.Base64Problem(utf8, out _) is { } problem)
                {
                    throw ServiceException.Serialization("'" + text + "' can not be converted to a Blob: " + problem);
                }

                return JsonValue.Create(Convert.FromBase64String(text));
            default:
                return JsonNode.Parse(value.GetRawText());
        }
    }

    private static long Floor(double d) =>
        double.IsNaN(d) ? 0 : d >= long.MaxValue ? long.MaxValue : d <= long.MinValue ? long.MinValue : (long)Math.Floor(d);

    private static ServiceException Mismatch(JsonValueKind kind, string target) => ServiceException.Serialization(kind switch
    {
        JsonValueKind.Array => ModelValidator.Messages.StartOfList,
        JsonValueKind.Object => ModelValidator.Messages.StartOfStructure,
        JsonValueKind.Number => "NUMBER_VALUE can not be converted to " + target,
        JsonValueKind.String => "STRING_VALUE can not be converted to " + target,
        JsonValueKind.True => "TRUE_VALUE can not be converted to " + target,
        JsonValueKind.False => "FALSE_VALUE can not be converted to " + target,
        _ => "Unexpected field type",
    });

    /// <summary>Writes a structure document as a JSON body (only the shape's members; <paramref name="bodyMember"/> filters REST bindings).</summary>
    public static byte[] WriteStructure(ShapeModel? shape, JsonObject? document, Func<MemberModel, bool>? bodyMember = null)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            if (shape is null || document is null)
            {
                writer.WriteStartObject();
                writer.WriteEndObject();
            }
            else
            {
                WriteObject(writer, shape, document, bodyMember);
            }
        }

        return stream.ToArray();
    }

    public static void WriteObject(Utf8JsonWriter writer, ShapeModel shape, JsonObject document, Func<MemberModel, bool>? bodyMember = null)
    {
        writer.WriteStartObject();
        foreach (var member in shape.Members)
        {
            if ((bodyMember is null || bodyMember(member)) && document.TryGetPropertyValue(member.Name, out var value) && value is not null)
            {
                writer.WritePropertyName(member.WireName);
                Write(writer, member.Shape, value, member.TimestampFormat);
            }
        }

        writer.WriteEndObject();
    }

    public static void Write(Utf8JsonWriter writer, ShapeModel shape, JsonNode value, string? timestampFormat = null)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure when value is JsonObject obj:
                WriteObject(writer, shape, obj);
                break;
            case ShapeType.List when value is JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    if (item is null)
                    {
                        writer.WriteNullValue();
                    }
                    else
                    {
                        Write(writer, shape.ListMember!.Shape, item, shape.ListMember.TimestampFormat);
                    }
                }

                writer.WriteEndArray();
                break;
            case ShapeType.Map when value is JsonObject map:
                writer.WriteStartObject();
                foreach (var (key, item) in map)
                {
                    writer.WritePropertyName(key);
                    if (item is null)
                    {
                        writer.WriteNullValue();
                    }
                    else
                    {
                        Write(writer, shape.MapValue!.Shape, item, shape.MapValue.TimestampFormat);
                    }
                }

                writer.WriteEndObject();
                break;
            case ShapeType.String:
                writer.WriteStringValue(ModelDocument.GetString(value));
                break;
            case ShapeType.Boolean:
                writer.WriteBooleanValue(ModelDocument.GetBoolean(value) == true);
                break;
            case ShapeType.Integer:
            case ShapeType.Long:
                writer.WriteNumberValue(ModelDocument.GetInt64(value) ?? 0);
                break;
            case ShapeType.Float:
            case ShapeType.Double:
                var d = ModelDocument.GetDouble(value) ?? 0;
                if (double.IsFinite(d))
                {
                    writer.WriteNumberValue(d);
                }
                else
                {
                    writer.WriteStringValue(Timestamps.FormatDouble(d));
                }

                break;
            case ShapeType.Blob:
                writer.WriteBase64StringValue(ModelDocument.GetBytes(value) ?? []);
                break;
            case ShapeType.Timestamp:
                var time = ModelDocument.GetTimestamp(value) ?? DateTimeOffset.UnixEpoch;
                var format = timestampFormat ?? shape.TimestampFormat ?? Timestamps.EpochSeconds;
                if (format == Timestamps.EpochSeconds)
                {
                    JsonTimestamps.WriteEpochSecondsValue(writer, time.ToUnixTimeMilliseconds());
                }
                else
                {
                    writer.WriteStringValue(Timestamps.Format(time, format));
                }

                break;
            default:
                value.WriteTo(writer);
                break;
        }
    }
}
