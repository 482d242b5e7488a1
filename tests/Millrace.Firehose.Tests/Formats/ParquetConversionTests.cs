using System.Text;
using System.Text.Json.Nodes;
using DuckDB.NET.Data;
using Millrace.Firehose.Formats;
using Millrace.Gateway;
using Xunit;

namespace Millrace.Firehose.Tests.Formats;

/// <summary>JSON to Parquet with Hive types, read back by DuckDB (an independent Parquet reader).</summary>
public sealed class ParquetConversionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("millrace-parquet-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static TableSchema Table(params (string Name, string Type)[] columns) =>
        new("000000000000", "lake", "events", "0", columns.Select(c => new TableColumn(c.Name, c.Type)).ToList());

    private static FormatConversionSettings Settings(string deserializer = """{"OpenXJsonSerDe":{}}""", string compression = "SNAPPY") =>
        FormatConversionSettings.Parse(JsonNode.Parse(
            "{\"SchemaConfiguration\":{\"DatabaseName\":\"lake\",\"TableName\":\"events\"}," +
            "\"InputFormatConfiguration\":{\"Deserializer\":" + deserializer + "}," +
            "\"OutputFormatConfiguration\":{\"Serializer\":{\"ParquetSerDe\":{\"Compression\":\"" + compression + "\"}}}}")!.AsObject(), m => new ArgumentException(m));

    private async Task<List<string>> ConvertAndQueryAsync(TableSchema table, FormatConversionSettings settings, string sql, params string[] records)
    {
        var conversion = new ParquetConversion(table, settings);
        var rows = new List<Dictionary<string, object?>>();
        foreach (var record in records)
        {
            var (read, code, error) = conversion.Read(Encoding.UTF8.GetBytes(record));
            Assert.True(read is not null, $"{code}: {error}");
            rows.AddRange(read!);
        }

        var path = Path.Combine(_dir, Guid.NewGuid() + ".parquet");
        await File.WriteAllBytesAsync(path, await conversion.WriteAsync(rows, CancellationToken.None));
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql.Replace("FILE", $"read_parquet('{path}')", StringComparison.Ordinal);
        using var reader = command.ExecuteReader();
        var result = new List<string>();
        while (reader.Read())
        {
            result.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return result;
    }

    [Fact]
    public async Task Primitive_columns_are_read_back_with_their_values_and_nulls()
    {
        var table = Table(("ticker_symbol", "string"), ("sector", "varchar(4)"), ("price", "double"), ("change", "float"), ("volume", "bigint"),
            ("n", "int"), ("small", "smallint"), ("tiny", "tinyint"), ("ok", "boolean"), ("amount", "decimal(10,2)"), ("day", "date"), ("event_time", "timestamp"));
        var rows = await ConvertAndQueryAsync(table, Settings(),
            "SELECT ticker_symbol, sector, price, change, volume, n, small, tiny, ok, amount, day::VARCHAR, strftime(event_time, '%Y-%m-%d %H:%M:%S.%g') FROM FILE ORDER BY volume",
            """{"TICKER_SYMBOL":"QXZ","sector":"HEALTHCARE","price":84.51,"change":-0.5,"volume":1,"n":"7","small":300,"tiny":-8,"ok":true,"amount":"12.345","day":"2026-12-07","event_time":"2026-12-07 09:30:00.250"}""",
            """{"ticker_symbol":"AB","price":1e3,"volume":2,"event_time":1765099800}""");
        Assert.Equal(
        [
            "QXZ|HEAL|84.51|-0.5|1|7|300|-8|True|12.35|2026-12-07|2026-12-07 09:30:00.250",
            "AB|NULL|1000|NULL|2|NULL|NULL|NULL|NULL|NULL|NULL|2025-12-07 09:30:00.000",
        ], rows);
    }

    [Fact]
    public async Task Nested_arrays_maps_and_structs_are_read_back()
    {
        var table = Table(("id", "int"), ("tags", "array<string>"), ("scores", "map<string,int>"), ("owner", "struct<name:string,age:int>"));
        var rows = await ConvertAndQueryAsync(table, Settings(),
            "SELECT id, tags::VARCHAR, scores['b'], owner.name, owner.age FROM FILE ORDER BY id",
            """{"id":1,"tags":["x","y"],"scores":{"a":1,"b":2},"owner":{"Name":"ann","age":40}}""",
            """{"id":2,"tags":[],"owner":null}""");
        Assert.Equal(["1|[x, y]|2|ann|40", "2|[]|NULL|NULL|NULL"], rows);
    }

    [Fact]
    public async Task Deeper_nesting_keeps_nulls_empties_and_order()
    {
        var table = Table(("id", "int"), ("grid", "array<array<int>>"), ("people", "map<string,struct<age:int,pets:array<string>>>"));
        var rows = await ConvertAndQueryAsync(table, Settings(),
            "SELECT id, grid::VARCHAR, people::VARCHAR FROM FILE ORDER BY id",
            """{"id":1,"grid":[[1,2],[],null,[3,null]],"people":{"ann":{"age":40,"pets":["cat"]},"bob":null}}""",
            """{"id":2,"grid":null,"people":{}}""",
            """{"id":3,"grid":[[4]],"people":{"cy":{"pets":[]}}}""");
        Assert.Equal(
        [
            "1|[[1, 2], [], NULL, [3, NULL]]|{ann={'age': 40, 'pets': [cat]}, bob=NULL}",
            "2|NULL|{}",
            "3|[[4]]|{cy={'age': NULL, 'pets': []}}",
        ], rows);
    }

    [Fact]
    public async Task A_record_may_hold_several_objects_and_Gzip_compression_is_readable()
    {
        var rows = await ConvertAndQueryAsync(Table(("id", "int")), Settings(compression: "GZIP"), "SELECT id FROM FILE ORDER BY id",
            "{\"id\":1}\n{\"id\":2}", "{\"id\":3}");
        Assert.Equal(["1", "2", "3"], rows);
    }

    [Fact]
    public void Records_that_do_not_match_the_schema_fail_alone_with_MalformedData()
    {
        var conversion = new ParquetConversion(Table(("id", "int"), ("tags", "array<string>")), Settings());
        Assert.Equal("DataFormatConversion.MalformedData", conversion.Read("not json"u8.ToArray()).ErrorCode);
        Assert.Equal("DataFormatConversion.MalformedData", conversion.Read("""{"id":"abc"}"""u8.ToArray()).ErrorCode);
        Assert.Equal("DataFormatConversion.MalformedData", conversion.Read("""{"tags":"x"}"""u8.ToArray()).ErrorCode);
        Assert.Equal("DataFormatConversion.MalformedData", conversion.Read("[1,2]"u8.ToArray()).ErrorCode);
        Assert.Equal("DataFormatConversion.MalformedData", conversion.Read("""{"id":99999999999}"""u8.ToArray()).ErrorCode);
        Assert.NotNull(conversion.Read("""{"id":5}"""u8.ToArray()).Rows);
    }

    [Fact]
    public void An_invalid_column_type_is_an_InvalidSchema()
    {
        var e = Assert.Throws<FormatConversionException>(() => new ParquetConversion(Table(("id", "integr")), Settings()));
        Assert.Equal("DataFormatConversion.InvalidSchema", e.ErrorCode);
        Assert.Throws<FormatConversionException>(() => new ParquetConversion(Table(("m", "map<string,int")), Settings()));
        Assert.Throws<FormatConversionException>(() => new ParquetConversion(Table(), Settings()));
    }

    [Fact]
    public async Task Hive_JSON_SerDe_reads_timestamps_by_its_formats()
    {
        var rows = await ConvertAndQueryAsync(Table(("event_time", "timestamp")),
            Settings("""{"HiveJsonSerDe":{"TimestampFormats":["yyyy-MM-dd'T'HH:mm:ss","millis"]}}"""),
            "SELECT strftime(event_time, '%Y-%m-%d %H:%M:%S') FROM FILE ORDER BY event_time",
            """{"event_time":"2026-12-07T01:02:03"}""", """{"event_time":1765069323000}""");
        Assert.Equal(["2025-12-07 01:02:03", "2026-12-07 01:02:03"], rows);
    }

    [Fact]
    public void Settings_refuse_ORC_two_deserializers_and_a_missing_table()
    {
        static void Refused(string json) => Assert.Throws<ArgumentException>(() =>
            FormatConversionSettings.Parse(JsonNode.Parse(json)!.AsObject(), m => new ArgumentException(m)));
        Refused("""{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"OrcSerDe":{}}}}""");
        Refused("""{"SchemaConfiguration":{"DatabaseName":"d","TableName":"t"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{},"HiveJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}""");
        Refused("""{"SchemaConfiguration":{"DatabaseName":"d"},"InputFormatConfiguration":{"Deserializer":{"OpenXJsonSerDe":{}}},"OutputFormatConfiguration":{"Serializer":{"ParquetSerDe":{}}}}""");
    }
}
