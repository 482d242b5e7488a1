using System.Text;
using System.Text.Json.Nodes;
using Millrace.Lambda.Mappings;

namespace Millrace.Lambda.Tests;

/// <summary>Lambda's event-filtering rules on Kinesis data, one case per rule of AWS's filter syntax.</summary>
public sealed class EventFilterTests
{
    private static EventFilter Filter(params string[] patterns) =>
        EventFilter.Parse(new JsonObject { ["Filters"] = new JsonArray([.. patterns.Select(p => (JsonNode)new JsonObject { ["Pattern"] = p })]) })!;

    private static bool Passes(string pattern, string data) => Filter(pattern).Matches(Encoding.UTF8.GetBytes(data));

    [Theory]
    [InlineData("""{"data":{"RequestCode":["AAAA"]}}""", """{"RequestCode":"AAAA"}""", true)]
    [InlineData("""{"data":{"RequestCode":["AAAA"]}}""", """{"RequestCode":"BBBB"}""", false)]
    [InlineData("""{"data":{"n":[5]}}""", """{"n":5.0}""", true)]
    [InlineData("""{"data":{"ok":[true]}}""", """{"ok":true}""", true)]
    [InlineData("""{"data":{"v":[null]}}""", """{"v":null}""", true)]
    [InlineData("""{"data":{"v":[null]}}""", """{"w":1}""", false)]
    [InlineData("""{"data":{"device":[{"prefix":"AB"}]}}""", """{"device":"AB1234"}""", true)]
    [InlineData("""{"data":{"file":[{"suffix":".png"}]}}""", """{"file":"a.jpg"}""", false)]
    [InlineData("""{"data":{"state":[{"anything-but":["off","idle"]}]}}""", """{"state":"on"}""", true)]
    [InlineData("""{"data":{"state":[{"anything-but":["off","idle"]}]}}""", """{"state":"idle"}""", false)]
    [InlineData("""{"data":{"state":[{"anything-but":{"prefix":"test-"}}]}}""", """{"state":"test-1"}""", false)]
    [InlineData("""{"data":{"t":[{"numeric":[">",50,"<=",100]}]}}""", """{"t":75}""", true)]
    [InlineData("""{"data":{"t":[{"numeric":[">",50,"<=",100]}]}}""", """{"t":100.5}""", false)]
    [InlineData("""{"data":{"t":[{"numeric":["=",3]}]}}""", """{"t":"3"}""", false)]
    [InlineData("""{"data":{"id":[{"exists":true}]}}""", """{"id":0}""", true)]
    [InlineData("""{"data":{"id":[{"exists":false}]}}""", """{"name":"x"}""", true)]
    [InlineData("""{"data":{"id":[{"exists":false}]}}""", """{"id":1}""", false)]
    [InlineData("""{"data":{"city":[{"equals-ignore-case":"PARIS"}]}}""", """{"city":"paris"}""", true)]
    [InlineData("""{"data":{"path":[{"wildcard":"/img/*.png"}]}}""", """{"path":"/img/cat.png"}""", true)]
    [InlineData("""{"data":{"path":[{"wildcard":"/img/*.png"}]}}""", """{"path":"/doc/cat.png"}""", false)]
    [InlineData("""{"data":{"tags":["red"]}}""", """{"tags":["blue","red"]}""", true)]
    [InlineData("""{"data":{"user":{"tier":["gold"]}}}""", """{"user":{"tier":"gold","id":1}}""", true)]
    [InlineData("""{"data":{"user":{"tier":["gold"]}}}""", """{"user":{"tier":"silver"}}""", false)]
    [InlineData("""{"data":{"$or":[{"a":[1]},{"b":[2]}]}}""", """{"b":2}""", true)]
    [InlineData("""{"data":{"$or":[{"a":[1]},{"b":[2]}]}}""", """{"a":2,"b":1}""", false)]
    [InlineData("""{"data":{"a":[1],"b":[2]}}""", """{"a":1,"b":3}""", false)]
    public void RulesMatchAsAwsDocumentsThem(string pattern, string data, bool expected) => Assert.Equal(expected, Passes(pattern, data));

    [Fact]
    public void NonJsonDataNeverMatchesAPatternOnData()
    {
        Assert.False(Passes("""{"data":{"a":[{"exists":true}]}}""", "plain text"));
        Assert.True(Passes("""{"data":[{"exists":false}]}""", "plain text"));
    }

    [Fact]
    public void AnyPatternOfTheCriteriaSuffices()
    {
        var filter = Filter("""{"data":{"kind":["a"]}}""", """{"data":{"kind":["b"]}}""");
        Assert.True(filter.Matches("""{"kind":"b"}"""u8));
        Assert.False(filter.Matches("""{"kind":"c"}"""u8));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("""{"data":"AAAA"}""")]
    public void BadPatternsAreRefused(string pattern) => Assert.Throws<FormatException>(() => Filter(pattern));

    [Fact]
    public void NoFiltersMeansNoFilter()
    {
        Assert.Null(EventFilter.Parse(null));
        Assert.Null(EventFilter.Parse(new JsonObject { ["Filters"] = new JsonArray() }));
    }
}
