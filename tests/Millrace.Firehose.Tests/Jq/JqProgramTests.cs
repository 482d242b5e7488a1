using System.Text;
using System.Text.Json.Nodes;
using FsCheck.Xunit;
using Millrace.Firehose.Jq;

namespace Millrace.Firehose.Tests.Jq;

/// <summary>The jq subset against outputs taken from jq 1.6 (<c>jq -c</c>) on the same input.</summary>
public sealed class JqProgramTests
{
    private const string Input = """{"customer_id":"c1","ts":1700000000,"a":"x","b":42,"xs":[1,2,3,4],"n":3,"k":"key","s":"AB-Cd","f":1.5}""";

    [Theory]
    [InlineData("""{customer_id:.customer_id, year:.ts|strftime("%Y")}""", """{"customer_id":"c1","year":"2023"}""")]
    [InlineData(""".a + "-" + (.b|tostring)""", "\"x-42\"")]
    [InlineData("[.xs[] | select(. > 1)] | length", "3")]
    [InlineData(""".missing // "default" """, "\"default\"")]
    [InlineData("""if .n > 2 then "big" elif .n > 1 then "mid" else "small" end""", "\"big\"")]
    [InlineData("\"id-\\(.n)\"", "\"id-3\"")]
    [InlineData(".xs[1:3]", "[2,3]")]
    [InlineData("{(.k): .n}", """{"key":3}""")]
    [InlineData("reduce .xs[] as $x (0; . + $x)", "10")]
    [InlineData(".ts | gmtime | mktime", "1700000000")]
    [InlineData(""".s | ascii_downcase | split("-") | join("_")""", "\"ab_cd\"")]
    [InlineData(".f", "1.5")]
    [InlineData(".ts|todate", "\"2023-11-14T22:13:20Z\"")]
    [InlineData("[.xs[] * 2]", "[2,4,6,8]")]
    [InlineData("""to_entries | map(.key) | join(",")""", "\"customer_id,ts,a,b,xs,n,k,s,f\"")]
    [InlineData(""".s | test("^AB")""", "true")]
    [InlineData(".n / 4", "0.75")]
    [InlineData(".xs[-1], .xs[0]", "4 1")]
    [InlineData(".n as $v | {v: $v, w: ($v * 2)}", """{"v":3,"w":6}""")]
    [InlineData("try error(\"boom\") catch .", "\"boom\"")]
    [InlineData(".a?.b?", "")]
    public void MatchesJq16(string query, string expected)
    {
        var outputs = JqProgram.Parse(query).Evaluate(JsonNode.Parse(Input)).Select(JqValuesRender).ToList();
        Assert.Equal(expected, string.Join(' ', outputs));
    }

    [Theory]
    [InlineData(".a.b", "Cannot index string with \"b\"")]
    [InlineData(".xs + 1", "cannot be added")]
    [InlineData(".n / 0", "divisor is zero")]
    public void RuntimeErrorsAreJqs(string query, string message)
    {
        var e = Assert.Throws<JqException>(() => JqProgram.Parse(query).Evaluate(JsonNode.Parse(Input)).ToList());
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{a: .b")]
    [InlineData(".a | nosuchfunction")]
    [InlineData("if .a then 1 end")]
    [InlineData("..")]
    public void SyntaxErrorsAreRefused(string query) => Assert.Throws<JqException>(() => JqProgram.Parse(query));

    [Fact]
    public void PartitionKeysAreRenderedAsJqRawOutput()
    {
        var program = JqProgram.Parse("""{customer: .customer_id, year: .ts | strftime("%Y"), n: .n, f: .f, ok: true}""");
        Assert.True(JqProgram.TryExtractPartitionKeys(program, Encoding.UTF8.GetBytes(Input), out var keys, out var error), error);
        Assert.Equal(new Dictionary<string, string> { ["customer"] = "c1", ["year"] = "2023", ["n"] = "3", ["f"] = "1.5", ["ok"] = "true" }, keys);
    }

    [Theory]
    [InlineData("not json", "{k: .a}")]
    [InlineData("""{"a": null}""", "{k: .a}")]
    [InlineData("""{"a": [1]}""", "{k: .a}")]
    [InlineData("""{"a": 1}""", ".a")]
    public void UnplaceableRecordsFail(string record, string query) =>
        Assert.False(JqProgram.TryExtractPartitionKeys(JqProgram.Parse(query), Encoding.UTF8.GetBytes(record), out _, out _));

    [Property]
    public bool FieldAccessReturnsTheField(int value, string key)
    {
        var doc = new JsonObject { [key ?? ""] = value };
        var query = "." + System.Text.Json.JsonSerializer.Serialize(key ?? "");
        return JqValuesRender(JqProgram.Parse(query).Evaluate(doc).Single()) == value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    [Property]
    public bool ToStringToNumberRoundTripsIntegers(int value) =>
        JqValuesRender(JqProgram.Parse("tostring | tonumber").Evaluate(JsonValue.Create(value)).Single()) == value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string JqValuesRender(JsonNode? node) => Millrace.Firehose.Jq.JqValues.Render(node);
}
