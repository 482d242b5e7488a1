namespace Millrace.Logs.Tests;

/// <summary>The filter-pattern language, as AWS documents it for FilterLogEvents and subscription filters.</summary>
public sealed class FilterPatternTests
{
    [Theory]
    [InlineData("", "anything at all", true)]
    [InlineData("ERROR", "[ERROR] disk full", true)]
    [InlineData("ERROR", "[error] disk full", false)] // terms are case-sensitive
    [InlineData("ERROR disk", "[ERROR] disk full", true)]
    [InlineData("ERROR memory", "[ERROR] disk full", false)]
    [InlineData("?ERROR ?WARN", "WARN low disk", true)]
    [InlineData("?ERROR ?WARN", "INFO all good", false)]
    [InlineData("ERROR -disk", "[ERROR] disk full", false)]
    [InlineData("ERROR -disk", "[ERROR] memory full", true)]
    [InlineData("\"disk full\"", "[ERROR] disk full", true)]
    [InlineData("\"full disk\"", "[ERROR] disk full", false)]
    [InlineData("\"[ERROR]\"", "[ERROR] disk full", true)]
    [InlineData("%ERR(OR)? [0-9]+%", "ERR 42 happened", true)]
    [InlineData("%^INFO%", "WARN INFO", false)]
    public void TermsPhrasesAlternativesAndRegex(string pattern, string message, bool expected) =>
        Assert.Equal(expected, FilterPattern.Parse(pattern).Matches(message));

    [Theory]
    [InlineData("{ $.eventType = \"UpdateTrail\" }", "{\"eventType\":\"UpdateTrail\"}", true)]
    [InlineData("{ $.eventType = \"UpdateTrail\" }", "{\"eventType\":\"CreateTrail\"}", false)]
    [InlineData("{ $.eventType = Update* }", "{\"eventType\":\"UpdateTrail\"}", true)]
    [InlineData("{ $.eventType != \"UpdateTrail\" }", "{\"eventType\":\"CreateTrail\"}", true)]
    [InlineData("{ $.latency >= 500 }", "{\"latency\":750}", true)]
    [InlineData("{ $.latency >= 500 }", "{\"latency\":250}", false)]
    [InlineData("{ $.latency < 500 }", "{\"latency\":\"fast\"}", false)]
    [InlineData("{ $.code = 200 }", "{\"code\":200.0}", true)]
    [InlineData("{ $.user.id = 7 && $.user.name = \"ann\" }", "{\"user\":{\"id\":7,\"name\":\"ann\"}}", true)]
    [InlineData("{ ($.a = 1) || ($.b = 2) }", "{\"a\":0,\"b\":2}", true)]
    [InlineData("{ ($.a = 1) || ($.b = 2) }", "{\"a\":0,\"b\":3}", false)]
    [InlineData("{ $.items[1].sku = \"B\" }", "{\"items\":[{\"sku\":\"A\"},{\"sku\":\"B\"}]}", true)]
    [InlineData("{ $.ok IS TRUE }", "{\"ok\":true}", true)]
    [InlineData("{ $.ok IS FALSE }", "{\"ok\":true}", false)]
    [InlineData("{ $.gone IS NULL }", "{\"gone\":null}", true)]
    [InlineData("{ $.gone NOT EXISTS }", "{\"other\":1}", true)]
    [InlineData("{ $.gone NOT EXISTS }", "{\"gone\":1}", false)]
    [InlineData("{ $.a = 1 }", "not json at all", false)]
    [InlineData("{ $.a = 1 }", "START RequestId: 1 {\"a\":1}", false)]
    public void JsonPatterns(string pattern, string message, bool expected) =>
        Assert.Equal(expected, FilterPattern.Parse(pattern).Matches(message));

    [Theory]
    [InlineData("[ip, user, ts, request, status = 404, size]", "127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 404 2326", true)]
    [InlineData("[ip, user, ts, request, status = 404, size]", "127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326", false)]
    [InlineData("[ip, user, ts, request, status = 4*, size > 1000]", "127.0.0.1 frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 403 2326", true)]
    [InlineData("[..., status = 5*, size]", "a b c 503 12", true)]
    [InlineData("[ip = 10.*, ...]", "127.0.0.1 x y", false)]
    public void SpaceDelimitedPatterns(string pattern, string message, bool expected) =>
        Assert.Equal(expected, FilterPattern.Parse(pattern).Matches(message));

    [Theory]
    [InlineData("{ $.a = 1")]
    [InlineData("{ a = 1 }")]
    [InlineData("{ $.a > abc }")]
    [InlineData("{ $.a = 1 } junk")]
    [InlineData("\"unterminated")]
    [InlineData("ERROR=1")]
    [InlineData("%[%")]
    [InlineData("[a, b")]
    public void InvalidPatternsAreRefused(string pattern) =>
        Assert.Throws<FilterPatternException>(() => FilterPattern.Parse(pattern));
}
