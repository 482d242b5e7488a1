using Millrace.Firehose.Prefixes;
using Millrace.Protocol.Wire;

namespace Millrace.Firehose.Tests.Prefixes;

public sealed class FirehosePrefixTests
{
    private static readonly DateTimeOffset Time = new(2026, 3, 8, 9, 5, 7, 123, TimeSpan.Zero);

    private static string Render(string? prefix, PrefixKind kind = PrefixKind.Prefix, Dictionary<string, string>? keys = null, string? errorType = null) =>
        FirehosePrefix.Parse(prefix, kind).Render(new PrefixContext(Time, TimeZoneInfo.Utc) { QueryKeys = keys, ErrorOutputType = errorType });

    [Theory]
    [InlineData(null, "2026/03/08/09/")]
    [InlineData("", "2026/03/08/09/")]
    [InlineData("logs/", "logs/2026/03/08/09/")]
    [InlineData("y=!{timestamp:yyyy}/d=!{timestamp:DDD}/", "y=2026/d=067/")]
    [InlineData("!{timestamp:yy-M-d H:mm:ss.SSS}", "26-3-8 9:05:07.123")]
    [InlineData("!{timestamp:'year='yyyy''MMM EEE a}", "year=2026'Mar Sun AM")]
    public void Renders(string? prefix, string expected) => Assert.Equal(expected, Render(prefix));

    [Fact]
    public void TimeZonesFollowDaylightSaving()
    {
        var prefix = FirehosePrefix.Parse("!{timestamp:yyyy-MM-dd HH XXX}", PrefixKind.Prefix);
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/Los_Angeles");
        string At(DateTimeOffset utc) => prefix.Render(new PrefixContext(TimeZoneInfo.ConvertTime(utc, zone), zone));
        Assert.Equal("2026-03-08 01 -08:00", At(new DateTimeOffset(2026, 3, 8, 9, 0, 0, TimeSpan.Zero)));
        Assert.Equal("2026-03-08 03 -07:00", At(new DateTimeOffset(2026, 3, 8, 10, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void PartitionKeysRandomStringsAndErrorTypes()
    {
        Assert.Equal("c=acme/", Render("c=!{partitionKeyFromQuery:customer}/", keys: new() { ["customer"] = "acme" }));
        Assert.Throws<PrefixException>(() => Render("c=!{partitionKeyFromQuery:customer}/", keys: []));
        Assert.Matches("^r/[A-Za-z0-9]{11}/2026/$", Render("r/!{firehose:random-string}/!{timestamp:yyyy}/"));
        Assert.Equal("e/processing-failed/2026/03/08/09/", Render("e/!{firehose:error-output-type}/", PrefixKind.ErrorOutputPrefix, errorType: "processing-failed"));
        Assert.Equal("p/format-conversion-failed/2026/03/08/09/", FirehosePrefix.DefaultErrorPrefix("p/", "format-conversion-failed", Time));
        Assert.Matches(@"^s-3-2026-03-08-09-05-07-[0-9a-f-]{36}\.gz$", FirehosePrefix.ObjectName("s", 3, Time, ".gz"));
    }

    [Theory]
    [InlineData("a/!{timestamp:yyyy", null)]
    [InlineData("a/!{nope:x}/", "e/!{firehose:error-output-type}/")]
    [InlineData("a/!{timestamp:yyyy}/", null)]
    [InlineData("a/!{timestamp:yyyy}/", "errors/")]
    [InlineData("a/!{timestamp:yyyy}/", "errors/!{partitionKeyFromQuery:k}/")]
    [InlineData("a/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}/")]
    [InlineData("a/!{timestamp:yyyyQ}/", "e/!{firehose:error-output-type}/")]
    [InlineData("a/!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/")]
    public void InvalidPrefixesAreInvalidArgument(string prefix, string? errorPrefix)
    {
        var e = Assert.Throws<ServiceException>(() => FirehosePrefix.Validate(prefix, errorPrefix, dynamicPartitioning: false));
        Assert.Equal("InvalidArgumentException", e.Code);
    }

    [Fact]
    public void DynamicPartitioningNeedsPartitionKeys()
    {
        FirehosePrefix.Validate("a/!{partitionKeyFromQuery:k}/", "e/!{firehose:error-output-type}/", dynamicPartitioning: true);
        Assert.Throws<ServiceException>(() => FirehosePrefix.Validate("a/", null, dynamicPartitioning: true));
    }
}
