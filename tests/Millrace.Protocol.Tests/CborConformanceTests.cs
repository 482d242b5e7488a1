using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Millrace.Protocol.Tests;

/// <summary>
/// Conformance vectors for <c>application/x-amz-cbor-1.1</c>. No Java SDK runs here, so these hand-written byte
/// sequences are the contract. Where each shape comes from:
/// <list type="bullet">
/// <item>Requests: the AWS SDK for Java v1 (<c>SdkStructuredCborFactory</c> over Jackson's <c>CBORGenerator</c>):
/// <c>writeStartObject()</c> opens an indefinite-length map (0xBF … 0xFF), field names and strings are definite-length
/// text, <c>ByteBuffer</c> members (Data) go through <c>writeBinary</c> as byte strings (major type 2), and
/// <c>SdkCborGenerator.writeValue(Date)</c> writes tag 1 followed by <c>date.getTime()</c>, i.e. epoch
/// milliseconds as an integer (reference notes, section 2, "CBOR").</item>
/// <item>Responses: what the Java SDK reads back: Data as a byte string (kinesis-mock's base64 text string is the
/// bug listed in section 4.3) and timestamps as tag 1 + integer milliseconds (its <c>DateCborUnmarshaller</c> reads a
/// long of milliseconds; kinesalite's float seconds is the other bug in section 4.3).</item>
/// <item>Errors: the JSON error shape in a CBOR map, <c>__type</c> and <c>message</c> as text strings (section 2).</item>
/// </list>
/// Hex below is written item by item with the CBOR diagnostic meaning in the comment.
/// </summary>
public class CborConformanceTests
{
    // ---- requests: CBOR -> JSON ---------------------------------------------------------------------------------

    [Fact]
    public void PutRecordAsJavaSdkV1SendsIt()
    {
        var request = Hex("""
            BF                                          # map, indefinite length (Jackson writeStartObject)
              6A 53747265616D4E616D65                   # "StreamName"
              64 64656D6F                               # "demo"
              64 44617461                               # "Data"
              45 68656C6C6F                             # bytes(5) h'68656C6C6F' ("hello"), writeBinary
              6C 506172746974696F6E4B6579               # "PartitionKey"
              61 6B                                     # "k"
            FF                                          # break
            """);

        Assert.Equal("""{"StreamName":"demo","Data":"aGVsbG8=","PartitionKey":"k"}""", ToJson("PutRecord", request));
    }

    [Fact]
    public void TimestampAsTag1WithIntegerMillisecondsBecomesEpochSeconds()
    {
        var request = Hex("""
            BF
              6A 53747265616D4E616D65                   # "StreamName"
              64 64656D6F                               # "demo"
              67 53686172644964                         # "ShardId"
              74 736861726449642D303030303030303030303030 # "shardId-000000000000"
              71 53686172644974657261746F7254797065     # "ShardIteratorType"
              6C 41545F54494D455354414D50               # "AT_TIMESTAMP"
              69 54696D657374616D70                     # "Timestamp"
              C1 1B 000001A203C345CE                    # 1(1795359458766): Java SDK date.getTime(), milliseconds
            FF
            """);

        Assert.Equal(
            """{"StreamName":"demo","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1795359458.766}""",
            ToJson("GetShardIterator", request));
    }

    [Theory]
    // RFC 8949 tag 1 with a float is epoch seconds (what kinesalite-era CBOR encoders send).
    [InlineData("C1 FB 41DAC0C0B8A00000", "1795359458.5")]
    // Untagged numbers are read as JSON reads them: epoch seconds.
    [InlineData("FB 41DAC0C0B8A00000", "1795359458.5")]
    [InlineData("1A 6B0302E2", "1795359458")]
    // Whole-second milliseconds under tag 1 print without a fraction, like the JSON timestamps Millrace writes.
    [InlineData("C1 1B 000001A203C342D0", "1795359458")]
    // RFC 8949 tag 0, an RFC 3339 string.
    [InlineData("C0 78 18 323032362D31322D30335430393A33373A33382E3736365A", "1796290658.766")]
    public void OtherTimestampFormsAreAccepted(string timestampHex, string json)
    {
        var request = Hex("""
            A4                                          # map(4), definite length this time
              6A 53747265616D4E616D65 64 64656D6F       # "StreamName": "demo"
              67 53686172644964 74 736861726449642D303030303030303030303030
              71 53686172644974657261746F7254797065 6C 41545F54494D455354414D50
              69 54696D657374616D70                     # "Timestamp"
            """ + "\n" + timestampHex);

        var converted = ToJson("GetShardIterator", request);
        Assert.EndsWith("\"Timestamp\":" + json + "}", converted);
        using var document = JsonDocument.Parse(converted);
        Assert.Null(ModelValidator.Kinesis.Validate("GetShardIterator", document.RootElement));
    }

    [Fact]
    public void IndefiniteLengthItemsEverywhereAreAccepted()
    {
        var request = Hex("""
            BF
              7F 63 537472 67 65616D4E616D65 FF         # "StreamName" in two text chunks
              64 64656D6F                               # "demo"
              67 5265636F726473                         # "Records"
              9F                                        # array, indefinite length
                BF
                  64 44617461                           # "Data"
                  5F 42 6869 41 21 FF                   # bytes in two chunks: "hi" + "!"
                  6C 506172746974696F6E4B6579 61 6B     # "PartitionKey": "k"
                FF
                A2                                      # a definite map inside an indefinite array
                  64 44617461 40                        # "Data": h'' (empty blob)
                  6C 506172746974696F6E4B6579 61 6B
              FF
            FF
            """);

        var json = ToJson("PutRecords", request);
        Assert.Equal("""{"StreamName":"demo","Records":[{"Data":"aGkh","PartitionKey":"k"},{"Data":"","PartitionKey":"k"}]}""", json);
        using var document = JsonDocument.Parse(json);
        Assert.Null(ModelValidator.Kinesis.Validate("PutRecords", document.RootElement));
    }

    [Fact]
    public void ScalarsConvertAsThemselves()
    {
        // ListShards has integers, strings and a nested structure; unknown members pass through untouched.
        var request = Hex("""
            A6
              6A 53747265616D4E616D65 64 64656D6F       # "StreamName": "demo"
              6A 4D6178526573756C7473 18 64             # "MaxResults": 100
              6B 45787472614D656D626572 F5              # "ExtraMember": true
              61 61 F6                                  # "a": null
              61 62 F7                                  # "b": undefined -> null
              61 63 83 20 F4 F9 3E00                    # "c": [-1, false, 1.5 (half float)]
            """);

        Assert.Equal("""{"StreamName":"demo","MaxResults":100,"ExtraMember":true,"a":null,"b":null,"c":[-1,false,1.5]}""",
            ToJson("ListShards", request));
    }

    [Fact]
    public void Base64TextAtABlobPositionIsLeftForTheValidator()
    {
        // kinesis-mock's clients and hand-rolled encoders send Data as base64 text; the JSON rules then apply.
        var request = Hex("""
            A3
              6A 53747265616D4E616D65 64 64656D6F
              64 44617461 68 614756736247383D             # "Data": "aGVsbG8="
              6C 506172746974696F6E4B6579 61 6B
            """);

        Assert.Equal("""{"StreamName":"demo","Data":"aGVsbG8=","PartitionKey":"k"}""", ToJson("PutRecord", request));
    }

    [Theory]
    [InlineData("A1 61", "truncated map")]
    [InlineData("A0 00", "trailing data after the root item")]
    [InlineData("FF", "a lone break")]
    [InlineData("1C", "reserved additional information")]
    [InlineData("A1 01 02", "an integer map key")]
    [InlineData("A1 62 C328 01", "a key that is not UTF-8")]
    [InlineData("A1 61 61 62 C328", "a text value that is not UTF-8")]
    [InlineData("A1 61 61 7F 62 C328 FF", "a chunked text value that is not UTF-8")]
    [InlineData("A1 61 61 F0", "an unassigned simple value")]
    [InlineData("A1 61 61 F9 7E00", "NaN")]
    [InlineData("A1 61 61 FB 7FF0000000000000", "infinity")]
    [InlineData("A1 61 61 C1 61 78", "tag 1 on a text string")]
    [InlineData("A1 61 61 C0 63 616263", "tag 0 on something that is not a date")]
    [InlineData("BF 61 61 01", "indefinite map without its break")]
    [InlineData("A1 6A 53747265616D4E616D65 44 64656D6F", "a byte string where the model has a string")]
    public void MalformedCborIsSerializationException(string hex, string why)
    {
        var error = Assert.Throws<KinesisException>(() => ToJson("PutRecord", Hex(hex)));
        Assert.True(error.ErrorType == "SerializationException", why);
        Assert.Equal(400, error.StatusCode);
    }

    [Fact]
    public void NestingIsCapped()
    {
        var deep = new byte[KinesisCbor.MaxDepth + 1];
        Array.Fill(deep, (byte)0x81); // array(1) inside array(1) inside ...
        Assert.Throws<KinesisException>(() => ToJson("ListStreams", [.. deep, 0x80]));

        var tags = new byte[100_000];
        Array.Fill(tags, (byte)0xC6); // tag 6 on tag 6 on ...: bounded too, no stack overflow
        Assert.Throws<KinesisException>(() => ToJson("ListStreams", [.. tags, 0x00]));
    }

    // ---- responses: JSON -> CBOR, exact bytes --------------------------------------------------------------------

    [Fact]
    public void GetRecordsResponseCarriesDataAsBytesAndTimestampsAsTag1Milliseconds()
    {
        var json = """
            {"Records":[{"SequenceNumber":"49647060812288014558888668248263847763900017820167045122",
            "ApproximateArrivalTimestamp":1795359458.766,"Data":"aGVsbG8=","PartitionKey":"k","EncryptionType":"NONE"}],
            "NextShardIterator":"AAAA","MillisBehindLatest":0}
            """;

        var expected = Hex("""
            BF
              67 5265636F726473                         # "Records"
              9F
                BF
                  6E 53657175656E63654E756D626572       # "SequenceNumber"
                  78 38 3439363437303630383132323838303134353538383838363638323438323633383437373633393030303137383230313637303435313232
                  78 1B 417070726F78696D6174654172726976616C54696D657374616D70 # "ApproximateArrivalTimestamp"
                  C1 1B 000001A203C345CE                # 1(1795359458766)
                  64 44617461                           # "Data"
                  45 68656C6C6F                         # h'68656C6C6F'
                  6C 506172746974696F6E4B6579 61 6B     # "PartitionKey": "k"
                  6E 456E6372797074696F6E54797065       # "EncryptionType"
                  64 4E4F4E45                           # "NONE"
                FF
              FF
              71 4E65787453686172644974657261746F72     # "NextShardIterator"
              64 41414141                               # "AAAA"
              72 4D696C6C6973426568696E644C6174657374   # "MillisBehindLatest"
              00                                        # 0
            FF
            """);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(FromJson("GetRecords", json)));
    }

    [Fact]
    public void DescribeStreamSummaryTimestampInWholeSeconds()
    {
        var json = """{"StreamDescriptionSummary":{"StreamName":"demo","StreamStatus":"ACTIVE","StreamCreationTimestamp":1795359458}}""";
        var expected = Hex("""
            BF
              78 18 53747265616D4465736372697074696F6E53756D6D617279 # "StreamDescriptionSummary"
              BF
                6A 53747265616D4E616D65 64 64656D6F
                6C 53747265616D537461747573 66 414354495645 # "StreamStatus": "ACTIVE"
                77 53747265616D4372656174696F6E54696D657374616D70 # "StreamCreationTimestamp"
                C1 1B 000001A203C342D0                  # 1(1795359458000)
              FF
            FF
            """);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(FromJson("DescribeStreamSummary", json)));
    }

    [Fact]
    public void EscapedJsonTextAndUnknownMembersAreWrittenNaturally()
    {
        // Utf8JsonWriter escapes '+' by default, in text and in base64 blobs alike.
        var json = """{"FailedRecordCount":1,"Records":[{"ErrorCode":"a\u002Bb"}],"ExtraMember":[1.5,null,true,"AAAA"]}""";
        var expected = Hex("""
            BF
              71 4661696C65645265636F7264436F756E74 01  # "FailedRecordCount": 1
              67 5265636F726473 9F BF                   # "Records": [{
                69 4572726F72436F6465 63 612B62         #   "ErrorCode": "a+b"
              FF FF                                     # }]
              6B 45787472614D656D626572                 # "ExtraMember" (not in the model)
              9F FB 3FF8000000000000 F6 F5 64 41414141 FF # [1.5 (8-byte double, like Jackson), null, true, "AAAA"]: text, not bytes
            FF
            """);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(FromJson("PutRecords", json)));
    }

    [Fact]
    public void EscapedBase64BlobIsDecoded()
    {
        var json = """{"Records":[{"Data":"\u002B/8=","PartitionKey":"k","SequenceNumber":"1"}]}""";
        var cbor = Convert.ToHexString(FromJson("GetRecords", json));
        Assert.Contains("64" + "44617461" + "42FBFF", cbor); // "Data": h'FBFF'
    }

    [Fact]
    public void OperationWithoutOutputStaysEmpty() => Assert.Empty(FromJson("CreateStream", ""));

    [Fact]
    public void ErrorIsAMapOfTypeAndMessage()
    {
        var expected = Hex("""
            BF
              66 5F5F74797065                           # "__type"
              78 19 5265736F757263654E6F74466F756E64457863657074696F6E # "ResourceNotFoundException"
              67 6D657373616765                         # "message"
              78 2E 53747265616D207820756E646572206163636F756E7420303030303030303030303030206E6F7420666F756E642E
            FF
            """);

        var writer = new ArrayBufferWriter<byte>();
        KinesisCbor.WriteError(KinesisException.ResourceNotFound("Stream x under account 000000000000 not found."), writer);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void ErrorWithoutMessageHasOnlyType()
    {
        var writer = new ArrayBufferWriter<byte>();
        KinesisCbor.WriteError(KinesisException.Serialization(null), writer);
        Assert.Equal(Convert.ToHexString(Hex("BF 66 5F5F74797065 76 53657269616C697A6174696F6E457863657074696F6E FF")), Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void ResponseDecodesBackToTheSameJson()
    {
        var json = """{"Records":[{"SequenceNumber":"1","ApproximateArrivalTimestamp":1795359458.001,"Data":"AAECAwQ=","PartitionKey":"p"}],"NextShardIterator":null,"MillisBehindLatest":5}""";
        var output = ModelValidator.Kinesis.GetOutputShape("GetRecords");
        var cbor = new ArrayBufferWriter<byte>();
        KinesisCbor.FromJson(Encoding.UTF8.GetBytes(json), output, cbor);
        var back = new ArrayBufferWriter<byte>();
        KinesisCbor.ToJson(cbor.WrittenMemory, output, back);
        Assert.Equal(json, Encoding.UTF8.GetString(back.WrittenSpan));
    }

    [Fact]
    public void ModelCarriesOutputShapesWithTheirBlobsAndTimestamps()
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var operation in ModelValidator.Kinesis.Operations)
        {
            if (ModelValidator.Kinesis.GetOutputShape(operation) is { } output)
            {
                Collect(operation, output, [], found);
            }
        }

        // The blob and timestamp members of every response in botocore's Kinesis model.
        Assert.Equal(
            [
                "DescribeAccountSettings: MinimumThroughputBillingCommitment.EarliestAllowedEndAt",
                "DescribeAccountSettings: MinimumThroughputBillingCommitment.EndedAt",
                "DescribeAccountSettings: MinimumThroughputBillingCommitment.StartedAt",
                "DescribeStream: StreamDescription.StreamCreationTimestamp",
                "DescribeStreamConsumer: ConsumerDescription.ConsumerCreationTimestamp",
                "DescribeStreamSummary: StreamDescriptionSummary.StreamCreationTimestamp",
                "GetRecords: Records[].ApproximateArrivalTimestamp",
                "GetRecords: Records[].Data",
                "ListStreamConsumers: Consumers[].ConsumerCreationTimestamp",
                "ListStreams: StreamSummaries[].StreamCreationTimestamp",
                "RegisterStreamConsumer: Consumer.ConsumerCreationTimestamp",
                "SubscribeToShard: EventStream.SubscribeToShardEvent.Records[].ApproximateArrivalTimestamp",
                "SubscribeToShard: EventStream.SubscribeToShardEvent.Records[].Data",
                "UpdateAccountSettings: MinimumThroughputBillingCommitment.EarliestAllowedEndAt",
                "UpdateAccountSettings: MinimumThroughputBillingCommitment.EndedAt",
                "UpdateAccountSettings: MinimumThroughputBillingCommitment.StartedAt",
            ],
            found);

        static void Collect(string operation, ModelShape shape, List<string> path, SortedSet<string> found)
        {
            switch (shape.Kind)
            {
                case ShapeKind.Structure:
                    foreach (var member in shape.Members)
                    {
                        Collect(operation, member.Target, [.. path, (path.Count > 0 ? "." : "") + member.Name], found);
                    }

                    break;
                case ShapeKind.List:
                    Collect(operation, shape.ListMember!, [.. path, "[]"], found);
                    break;
                case ShapeKind.Map:
                    Collect(operation, shape.MapValue!, [.. path, "{}"], found);
                    break;
                case ShapeKind.Blob or ShapeKind.Timestamp:
                    found.Add(operation + ": " + string.Concat(path));
                    break;
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private static string ToJson(string operation, byte[] cbor)
    {
        var json = new ArrayBufferWriter<byte>();
        KinesisCbor.ToJson(cbor, ModelValidator.Kinesis.GetInputShape(operation), json);
        return Encoding.UTF8.GetString(json.WrittenSpan);
    }

    private static byte[] FromJson(string operation, string json)
    {
        var cbor = new ArrayBufferWriter<byte>();
        KinesisCbor.FromJson(Encoding.UTF8.GetBytes(json), ModelValidator.Kinesis.GetOutputShape(operation), cbor);
        return cbor.WrittenSpan.ToArray();
    }

    /// <summary>Hex digits with whitespace and <c>#</c> comments to the end of the line.</summary>
    internal static byte[] Hex(string annotated)
    {
        var digits = new StringBuilder();
        foreach (var line in annotated.Split('\n'))
        {
            var text = line.Split('#')[0];
            foreach (var c in text)
            {
                if (!char.IsWhiteSpace(c))
                {
                    digits.Append(c);
                }
            }
        }

        return Convert.FromHexString(digits.ToString());
    }
}
