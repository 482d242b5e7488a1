using System.Buffers;
using System.Formats.Cbor;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;

namespace Millrace.Protocol;

/// <summary>
/// The Kinesis CBOR wire format (<c>application/x-amz-cbor-1.1</c>, the AWS Java SDK's default) as a translation to
/// and from the JSON 1.1 documents the operations read and write. Requests become the JSON the same call would have
/// sent (byte strings become base64 blobs, timestamps become epoch-seconds numbers); responses are re-encoded with the
/// operation's output shape (base64 blobs become byte strings, timestamps become tag 1 + integer epoch milliseconds,
/// which is what the Java SDK writes and reads).
/// </summary>
/// <remarks>
/// Requests are read with <c>CborReader</c> (definite and indefinite lengths alike). Responses are written by
/// <see cref="CborOutput"/> into the caller's pooled buffer, with indefinite-length maps and arrays and 8-byte doubles
/// as Jackson's <c>CBORGenerator</c> (used by the Java SDK) writes them. Malformed CBOR is a
/// <c>SerializationException</c>.
/// </remarks>
public static class KinesisCbor
{
    public const string ContentType = "application/x-amz-cbor-1.1";

    /// <summary>Same nesting cap as the JSON path.</summary>
    public const int MaxDepth = 64;

    private static readonly JsonWriterOptions JsonOptions = new()
    {
        // The document is parsed again straight away; escaping non-ASCII would only cost time.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>
    /// Converts a CBOR request body to the equivalent JSON document. <paramref name="inputShape"/> (may be null)
    /// tells where byte strings are expected; a byte string where the model has some other type is a
    /// <c>SerializationException</c>, like any other undecodable input.
    /// </summary>
    public static void ToJson(ReadOnlyMemory<byte> cbor, ModelShape? inputShape, IBufferWriter<byte> json)
    {
        var reader = new CborReader(cbor, CborConformanceMode.Lax);
        using var writer = new Utf8JsonWriter(json, JsonOptions);
        try
        {
            ReadValue(reader, inputShape, writer, 0);
            if (reader.BytesRemaining != 0)
            {
                throw KinesisException.Serialization(null);
            }
        }
        catch (Exception ex) when (ex is CborContentException or InvalidOperationException or FormatException or OverflowException or DecoderFallbackException)
        {
            // CborReader reports truncated input and misplaced break bytes as InvalidOperationException.
            throw KinesisException.Serialization(null);
        }

        writer.Flush();
    }

    /// <summary>
    /// Re-encodes a JSON response document as CBOR, using <paramref name="outputShape"/> to find the blobs and
    /// timestamps. An empty document (an operation without output) stays empty.
    /// </summary>
    public static void FromJson(ReadOnlySpan<byte> json, ModelShape? outputShape, IBufferWriter<byte> cbor)
    {
        if (json.IsEmpty)
        {
            return;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
        reader.Read();
        WriteValue(ref reader, outputShape, cbor);
    }

    /// <summary>Writes an error as AWS sends it over CBOR: a map of <c>__type</c> and (when there is one) <c>message</c>.</summary>
    public static void WriteError(KinesisException error, IBufferWriter<byte> cbor)
    {
        CborOutput.WriteByte(cbor, CborOutput.StartIndefiniteMap);
        CborOutput.WriteText(cbor, "__type"u8);
        CborOutput.WriteText(cbor, Encoding.UTF8.GetBytes(error.ErrorType));
        if (error.ErrorMessage is not null)
        {
            CborOutput.WriteText(cbor, "message"u8);
            CborOutput.WriteText(cbor, Encoding.UTF8.GetBytes(error.ErrorMessage));
        }

        CborOutput.WriteByte(cbor, CborOutput.Break);
    }

    // ---- CBOR -> JSON -------------------------------------------------------------------------------------------

    private static void ReadValue(CborReader reader, ModelShape? shape, Utf8JsonWriter writer, int depth)
    {
        switch (reader.PeekState())
        {
            case CborReaderState.StartMap:
                ReadMap(reader, shape, writer, depth + 1);
                break;
            case CborReaderState.StartArray:
                Nest(depth + 1);
                reader.ReadStartArray();
                writer.WriteStartArray();
                var item = shape is { Kind: ShapeKind.List } ? shape.ListMember : null;
                while (reader.PeekState() != CborReaderState.EndArray)
                {
                    ReadValue(reader, item, writer, depth + 1);
                }

                reader.ReadEndArray();
                writer.WriteEndArray();
                break;
            case CborReaderState.TextString:
                var text = reader.ReadDefiniteLengthTextStringBytes().Span;
                if (!Utf8.IsValid(text))
                {
                    throw KinesisException.Serialization(null);
                }

                writer.WriteStringValue(text);
                break;
            case CborReaderState.StartIndefiniteLengthTextString:
                writer.WriteStringValue(ReadChunkedText(reader));
                break;
            case CborReaderState.ByteString:
                RequireBlob(shape);
                writer.WriteBase64StringValue(reader.ReadDefiniteLengthByteString().Span);
                break;
            case CborReaderState.StartIndefiniteLengthByteString:
                RequireBlob(shape);
                writer.WriteBase64StringValue(reader.ReadByteString());
                break;
            case CborReaderState.UnsignedInteger:
                writer.WriteNumberValue(reader.ReadUInt64());
                break;
            case CborReaderState.NegativeInteger:
                var encoded = reader.ReadCborNegativeIntegerRepresentation();
                if (encoded <= long.MaxValue)
                {
                    writer.WriteNumberValue(-1L - (long)encoded);
                }
                else
                {
                    WriteRawNumber(writer, -BigInteger.One - encoded);
                }

                break;
            case CborReaderState.HalfPrecisionFloat or CborReaderState.SinglePrecisionFloat or CborReaderState.DoublePrecisionFloat:
                writer.WriteNumberValue(ReadFinite(reader));
                break;
            case CborReaderState.Boolean:
                writer.WriteBooleanValue(reader.ReadBoolean());
                break;
            case CborReaderState.Null:
                reader.ReadNull();
                writer.WriteNullValue();
                break;
            case CborReaderState.SimpleValue:
                // Only "undefined" has a JSON equivalent (absent, like null); other simple values mean nothing here.
                if (reader.ReadSimpleValue() != CborSimpleValue.Undefined)
                {
                    throw KinesisException.Serialization(null);
                }

                writer.WriteNullValue();
                break;
            case CborReaderState.Tag:
                ReadTagged(reader, shape, writer, depth + 1);
                break;
            default:
                throw KinesisException.Serialization(null);
        }
    }

    private static void ReadMap(CborReader reader, ModelShape? shape, Utf8JsonWriter writer, int depth)
    {
        Nest(depth);
        reader.ReadStartMap();
        writer.WriteStartObject();
        while (reader.PeekState() != CborReaderState.EndMap)
        {
            ModelShape? valueShape;
            switch (reader.PeekState())
            {
                case CborReaderState.TextString:
                    var name = reader.ReadDefiniteLengthTextStringBytes().Span;
                    if (!Utf8.IsValid(name))
                    {
                        throw KinesisException.Serialization(null);
                    }

                    writer.WritePropertyName(name);
                    valueShape = shape?.Kind switch
                    {
                        ShapeKind.Structure => FindMember(shape, name),
                        ShapeKind.Map => shape.MapValue,
                        _ => null,
                    };
                    break;
                case CborReaderState.StartIndefiniteLengthTextString:
                    var chunked = ReadChunkedText(reader);
                    writer.WritePropertyName(chunked);
                    valueShape = shape?.Kind switch
                    {
                        ShapeKind.Structure => FindMember(shape, Encoding.UTF8.GetBytes(chunked)),
                        ShapeKind.Map => shape.MapValue,
                        _ => null,
                    };
                    break;
                default:
                    // JSON objects (and the AWS deserializer) only have text keys.
                    throw KinesisException.Serialization(null);
            }

            ReadValue(reader, valueShape, writer, depth);
        }

        reader.ReadEndMap();
        writer.WriteEndObject();
    }

    private static void ReadTagged(CborReader reader, ModelShape? shape, Utf8JsonWriter writer, int depth)
    {
        Nest(depth);
        switch (reader.PeekTag())
        {
            case CborTag.UnixTimeSeconds:
                reader.ReadTag();
                switch (reader.PeekState())
                {
                    case CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger:
                        // The Java SDK (v1 and v2) writes tag 1 followed by epoch *milliseconds*, not RFC 8949's seconds.
                        JsonTimestamps.WriteEpochSecondsValue(writer, reader.ReadInt64());
                        break;
                    case CborReaderState.HalfPrecisionFloat or CborReaderState.SinglePrecisionFloat or CborReaderState.DoublePrecisionFloat:
                        // A fractional value is RFC 8949 epoch seconds (kinesalite's clients send these).
                        writer.WriteNumberValue(ReadFinite(reader));
                        break;
                    default:
                        throw KinesisException.Serialization(null);
                }

                break;
            case CborTag.DateTimeString:
                reader.ReadTag();
                var text = reader.ReadTextString();
                if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                {
                    throw KinesisException.Serialization(null);
                }

                JsonTimestamps.WriteEpochSecondsValue(writer, time.ToUnixTimeMilliseconds());
                break;
            case CborTag.UnsignedBigNum or CborTag.NegativeBigNum:
                WriteRawNumber(writer, reader.ReadBigInteger());
                break;
            default:
                // Other tags add nothing Kinesis uses: read the tagged item as it is.
                reader.ReadTag();
                ReadValue(reader, shape, writer, depth);
                break;
        }
    }

    private static string ReadChunkedText(CborReader reader)
    {
        // Indefinite-length text is rare (Jackson never writes it); decode strictly so bad UTF-8 is rejected.
        var encoded = reader.ReadEncodedValue().Span;
        var inner = new CborReader(encoded.ToArray(), CborConformanceMode.Strict);
        return inner.ReadTextString();
    }

    private static double ReadFinite(CborReader reader)
    {
        var value = reader.ReadDouble();
        return double.IsFinite(value) ? value : throw KinesisException.Serialization(null);
    }

    private static void RequireBlob(ModelShape? shape)
    {
        // Members the model does not know are dropped later anyway; a byte string where the model has a string,
        // number or structure cannot be deserialized.
        if (shape is not null && shape.Kind != ShapeKind.Blob)
        {
            throw KinesisException.Serialization("Unexpected field type");
        }
    }

    private static void WriteRawNumber(Utf8JsonWriter writer, BigInteger value) =>
        writer.WriteRawValue(value.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);

    private static void Nest(int depth)
    {
        if (depth > MaxDepth)
        {
            throw KinesisException.Serialization(null);
        }
    }

    private static ModelShape? FindMember(ModelShape structure, ReadOnlySpan<byte> utf8Name)
    {
        foreach (var member in structure.MemberArray)
        {
            if (utf8Name.SequenceEqual(member.Utf8Name))
            {
                return member.Target;
            }
        }

        return null;
    }

    // ---- JSON -> CBOR -------------------------------------------------------------------------------------------

    private static void WriteValue(ref Utf8JsonReader reader, ModelShape? shape, IBufferWriter<byte> cbor)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                CborOutput.WriteByte(cbor, CborOutput.StartIndefiniteMap);
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    WriteText(ref reader, cbor);
                    ModelShape? valueShape = shape?.Kind switch
                    {
                        ShapeKind.Structure => FindMember(ref reader, shape),
                        ShapeKind.Map => shape.MapValue,
                        _ => null,
                    };
                    reader.Read();
                    WriteValue(ref reader, valueShape, cbor);
                }

                CborOutput.WriteByte(cbor, CborOutput.Break);
                break;
            case JsonTokenType.StartArray:
                CborOutput.WriteByte(cbor, CborOutput.StartIndefiniteArray);
                var item = shape is { Kind: ShapeKind.List } ? shape.ListMember : null;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    WriteValue(ref reader, item, cbor);
                }

                CborOutput.WriteByte(cbor, CborOutput.Break);
                break;
            case JsonTokenType.String when shape is { Kind: ShapeKind.Blob }:
                WriteBlob(ref reader, cbor);
                break;
            case JsonTokenType.String:
                WriteText(ref reader, cbor);
                break;
            case JsonTokenType.Number when shape is { Kind: ShapeKind.Timestamp }:
                // JSON carries epoch seconds with millisecond fractions; the Java SDK reads a long of milliseconds.
                CborOutput.WriteHead(cbor, CborOutput.MajorTag, 1);
                CborOutput.WriteInteger(cbor, (long)decimal.Floor(reader.GetDecimal() * 1000m));
                break;
            case JsonTokenType.Number:
                if (reader.TryGetInt64(out var whole))
                {
                    CborOutput.WriteInteger(cbor, whole);
                }
                else if (reader.TryGetUInt64(out var big))
                {
                    CborOutput.WriteHead(cbor, CborOutput.MajorUnsigned, big);
                }
                else
                {
                    CborOutput.WriteDouble(cbor, reader.GetDouble());
                }

                break;
            case JsonTokenType.True:
                CborOutput.WriteByte(cbor, CborOutput.True);
                break;
            case JsonTokenType.False:
                CborOutput.WriteByte(cbor, CborOutput.False);
                break;
            case JsonTokenType.Null:
                CborOutput.WriteByte(cbor, CborOutput.Null);
                break;
            default:
                throw new InvalidOperationException($"Unexpected JSON token {reader.TokenType} in a response.");
        }
    }

    private static ModelShape? FindMember(ref Utf8JsonReader reader, ModelShape structure)
    {
        foreach (var member in structure.MemberArray)
        {
            if (reader.ValueTextEquals(member.Utf8Name))
            {
                return member.Target;
            }
        }

        return null;
    }

    private static void WriteText(ref Utf8JsonReader reader, IBufferWriter<byte> cbor)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            CborOutput.WriteText(cbor, reader.ValueSpan);
            return;
        }

        var max = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(max, 1));
        try
        {
            CborOutput.WriteText(cbor, buffer.AsSpan(0, reader.CopyString(buffer)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void WriteBlob(ref Utf8JsonReader reader, IBufferWriter<byte> cbor)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence)
        {
            CborOutput.WriteBase64AsBytes(cbor, reader.ValueSpan);
            return;
        }

        // Utf8JsonWriter may escape '+' as \u002B; undo JSON escapes before base64 decoding.
        var max = reader.HasValueSequence ? checked((int)reader.ValueSequence.Length) : reader.ValueSpan.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(max, 1));
        try
        {
            CborOutput.WriteBase64AsBytes(cbor, buffer.AsSpan(0, reader.CopyString(buffer)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
