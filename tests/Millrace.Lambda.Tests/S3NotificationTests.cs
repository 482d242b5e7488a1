using System.Text.Json;

namespace Millrace.Lambda.Tests;

/// <summary>Matching S3 changes against a bucket's function configurations, and the event AWS sends.</summary>
public sealed class S3NotificationTests
{
    private const string Xml = """
        <NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
          <CloudFunctionConfiguration>
            <Id>txt</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:producer</CloudFunction>
            <Event>s3:ObjectCreated:*</Event>
            <Filter><S3Key><FilterRule><Name>prefix</Name><Value>in/</Value></FilterRule><FilterRule><Name>Suffix</Name><Value>.txt</Value></FilterRule></S3Key></Filter>
          </CloudFunctionConfiguration>
          <CloudFunctionConfiguration>
            <Id>deletes</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:janitor:live</CloudFunction>
            <Event>s3:ObjectRemoved:Delete</Event>
          </CloudFunctionConfiguration>
        </NotificationConfiguration>
        """;

    private static ObjectNotification Change(string name, string key) =>
        new(name, "bucket", key, 12, "abc", DateTimeOffset.FromUnixTimeMilliseconds(1_790_000_000_123), "REQ1", Xml);

    [Theory]
    [InlineData("ObjectCreated:Put", "in/a.txt", "txt")]
    [InlineData("ObjectCreated:CompleteMultipartUpload", "in/big.txt", "txt")]
    [InlineData("ObjectCreated:Put", "out/a.txt", null)]
    [InlineData("ObjectCreated:Put", "in/a.png", null)]
    [InlineData("ObjectRemoved:Delete", "in/a.txt", "deletes")]
    [InlineData("ObjectRemoved:DeleteMarkerCreated", "in/a.txt", null)]
    public void ChangesMatchTheirConfigurations(string eventName, string key, string? expected)
    {
        var matched = S3Notifications.Match(Change(eventName, key), Xml);
        Assert.Equal(expected is null ? [] : [expected], matched.Select(t => t.Id));
    }

    [Theory]
    [InlineData("plain.txt", "plain.txt")]
    [InlineData("in/my notes.txt", "in/my+notes.txt")]
    [InlineData("a+b/c=d&e.txt", "a%2Bb/c%3Dd%26e.txt")]
    [InlineData("ünï/cödé.txt", "%C3%BCn%C3%AF/c%C3%B6d%C3%A9.txt")]
    public void KeysAreEncodedAsS3EncodesThem(string key, string encoded) => Assert.Equal(encoded, S3Notifications.EncodeKey(key));

    [Fact]
    public void EventHasAwsShape()
    {
        using var doc = JsonDocument.Parse(S3Notifications.Event(Change("ObjectCreated:Put", "in/my notes.txt"), "txt", "us-east-1", "000000000000"));
        var record = doc.RootElement.GetProperty("Records")[0];
        Assert.Equal("2.1", record.GetProperty("eventVersion").GetString());
        Assert.Equal("aws:s3", record.GetProperty("eventSource").GetString());
        Assert.Equal("2026-09-21T14:13:20.123Z", record.GetProperty("eventTime").GetString());
        var s3 = record.GetProperty("s3");
        Assert.Equal("txt", s3.GetProperty("configurationId").GetString());
        Assert.Equal("arn:aws:s3:::bucket", s3.GetProperty("bucket").GetProperty("arn").GetString());
        var obj = s3.GetProperty("object");
        Assert.Equal("in/my+notes.txt", obj.GetProperty("key").GetString());
        Assert.Equal(12, obj.GetProperty("size").GetInt64());
        Assert.Equal("abc", obj.GetProperty("eTag").GetString());
        Assert.Equal(16, obj.GetProperty("sequencer").GetString()!.Length);
    }
}
