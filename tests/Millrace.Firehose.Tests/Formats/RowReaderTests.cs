using System.Text.Json;
using Millrace.Firehose.Formats;
using Xunit;

namespace Millrace.Firehose.Tests.Formats;

/// <summary>The Hive type parser and the OpenX and Hive JSON SerDes' readings of keys and values.</summary>
public sealed class RowReaderTests
{
    private static Dictionary<string, object?> Read(JsonDeserializer deserializer, string json, params (string Name, string Type)[] columns)
    {
        var reader = new RowReader(columns.Select(c => (c.Name, HiveType.Parse(c.Type))).ToList(), deserializer);
        using var document = JsonDocument.Parse(json);
        return reader.Read(document.RootElement);
    }

    [Theory]
    [InlineData("string", HiveKind.String)]
    [InlineData("INT", HiveKind.Int)]
    [InlineData("integer", HiveKind.Int)]
    [InlineData("decimal", HiveKind.Decimal)]
    [InlineData("varchar(10)", HiveKind.Varchar)]
    [InlineData(" array < struct < a : int , `b c` : map<string,double> > > ", HiveKind.Array)]
    public void Hive_types_parse(string text, HiveKind kind) => Assert.Equal(kind, HiveType.Parse(text).Kind);

    [Fact]
    public void Hive_type_details_are_kept()
    {
        var d = HiveType.Parse("decimal(12, 3)");
        Assert.Equal((12, 3), (d.Precision, d.Scale));
        Assert.Equal((10, 0), (HiveType.Parse("decimal").Precision, HiveType.Parse("decimal").Scale));
        var s = HiveType.Parse("struct<Name:string,`b c`:map<string,array<int>>>");
        Assert.Equal(["name", "b c"], s.Fields.Select(f => f.Name));
        Assert.Equal(HiveKind.Int, s.Fields[1].Type.Value!.Element!.Kind);
    }

    [Theory]
    [InlineData("strin")]
    [InlineData("decimal(39,2)")]
    [InlineData("decimal(5,6)")]
    [InlineData("varchar")]
    [InlineData("array<int")]
    [InlineData("map<array<int>,int>")]
    [InlineData("struct<a:int,a:string>")]
    [InlineData("int extra")]
    [InlineData("")]
    public void Invalid_hive_types_are_InvalidSchema(string text) =>
        Assert.Equal("DataFormatConversion.InvalidSchema", Assert.Throws<FormatConversionException>(() => HiveType.Parse(text)).ErrorCode);

    [Fact]
    public void OpenX_keys_match_case_insensitively_with_dots_and_mappings()
    {
        var openX = new OpenXJsonDeserializer
        {
            ConvertDotsInJsonKeysToUnderscores = true,
            ColumnToJsonKeyMappings = new Dictionary<string, string> { ["ts"] = "timestamp" },
        };
        var row = Read(openX, """{"User.Name":"ann","TIMESTAMP":"2026-12-07T10:00:00Z","extra":1}""", ("user_name", "string"), ("ts", "timestamp"), ("missing", "int"));
        Assert.Equal("ann", row["user_name"]);
        Assert.Equal(new DateTime(2026, 12, 7, 10, 0, 0, DateTimeKind.Utc), row["ts"]);
        Assert.Null(row["missing"]);

        var sensitive = new OpenXJsonDeserializer { CaseInsensitive = false };
        Assert.Null(Read(sensitive, """{"Name":"x"}""", ("name", "string"))["name"]);
    }

    [Fact]
    public void OpenX_reads_epoch_seconds_and_milliseconds_and_coerces_scalars()
    {
        var row = Read(new OpenXJsonDeserializer(), """{"s":1765099800,"ms":1765099800123,"n":"42","f":"1.5","b":"true","text":{"a":[1]},"c":"abcdef"}""",
            ("s", "timestamp"), ("ms", "timestamp"), ("n", "bigint"), ("f", "double"), ("b", "boolean"), ("text", "string"), ("c", "char(3)"));
        Assert.Equal(DateTime.UnixEpoch.AddSeconds(1765099800), row["s"]);
        Assert.Equal(DateTime.UnixEpoch.AddMilliseconds(1765099800123), row["ms"]);
        Assert.Equal(42L, row["n"]);
        Assert.Equal(1.5, row["f"]);
        Assert.Equal(true, row["b"]);
        Assert.Equal("""{"a":[1]}""", row["text"]);
        Assert.Equal("abc", row["c"]);
    }

    [Fact]
    public void Values_out_of_range_or_of_the_wrong_shape_are_MalformedData()
    {
        var openX = new OpenXJsonDeserializer();
        Assert.Throws<MalformedDataException>(() => Read(openX, """{"t":300}""", ("t", "tinyint")));
        Assert.Throws<MalformedDataException>(() => Read(openX, """{"m":[1]}""", ("m", "map<string,int>")));
        Assert.Throws<MalformedDataException>(() => Read(openX, """{"s":"x"}""", ("s", "struct<a:int>")));
        Assert.Throws<MalformedDataException>(() => Read(openX, """{"d":"yesterday"}""", ("d", "date")));
        // Hive: a decimal with more integer digits than the type allows is null, not an error.
        Assert.Null(Read(openX, """{"x":12345.6}""", ("x", "decimal(5,2)"))["x"]);
        Assert.Equal(123.46m, Read(openX, """{"x":123.455}""", ("x", "decimal(5,2)"))["x"]);
    }

    [Fact]
    public void Hive_SerDe_uses_its_timestamp_formats_then_java_sql_timestamp()
    {
        var hive = new HiveJsonDeserializer { TimestampFormats = ["dd/MM/yyyy HH:mm"] };
        Assert.Equal(new DateTime(2026, 12, 7, 10, 5, 0, DateTimeKind.Utc), Read(hive, """{"t":"07/12/2026 10:05"}""", ("t", "timestamp"))["t"]);
        Assert.Equal(new DateTime(2026, 12, 7, 10, 5, 1, DateTimeKind.Utc).AddTicks(1_234_567),
            Read(hive, """{"t":"2026-12-07 10:05:01.123456789"}""", ("t", "timestamp"))["t"]);
        Assert.Equal("DataFormatConversion.InvalidSchema",
            Assert.Throws<FormatConversionException>(() => new RowReader([("t", HiveType.Parse("timestamp"))], new HiveJsonDeserializer { TimestampFormats = ["yyyy-ww"] })).ErrorCode);
    }
}
