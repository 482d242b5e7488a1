using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Millrace.Lambda;

/// <summary>A committed object change in Millrace's S3 and the bucket's notification configuration (the XML given to PutBucketNotificationConfiguration).</summary>
public sealed record ObjectNotification(string EventName, string Bucket, string Key, long Size, string? ETag, DateTimeOffset Time, string RequestId, string ConfigurationXml);

/// <summary>
/// S3 event notifications to functions: matches a change against the bucket's LambdaFunctionConfigurations
/// (<c>CloudFunctionConfiguration</c> in S3's XML: events such as <c>s3:ObjectCreated:*</c>, prefix and suffix
/// filters) and queues an asynchronous invocation, durably, with AWS's S3 event for each that matches.
/// </summary>
internal static class S3Notifications
{
    private static long _sequencer;

    public sealed record Target(string Id, string FunctionArn);

    /// <summary>The configurations of <paramref name="xml"/> that <paramref name="change"/> matches.</summary>
    public static List<Target> Match(ObjectNotification change, string xml)
    {
        var targets = new List<Target>();
        XElement root;
        try
        {
            root = XElement.Parse(xml);
        }
        catch (System.Xml.XmlException)
        {
            return targets;
        }

        foreach (var config in root.Elements().Where(e => e.Name.LocalName is "CloudFunctionConfiguration" or "LambdaFunctionConfiguration"))
        {
            var function = Child(config, "CloudFunction") ?? Child(config, "LambdaFunctionArn");
            if (function is null)
            {
                continue;
            }

            var events = config.Elements().Where(e => e.Name.LocalName == "Event").Select(e => e.Value.Trim()).ToList();
            if (!events.Any(e => Matches(e, change.EventName)))
            {
                continue;
            }

            string? prefix = null, suffix = null;
            foreach (var rule in config.Descendants().Where(e => e.Name.LocalName == "FilterRule"))
            {
                var name = Child(rule, "Name")?.ToLowerInvariant();
                var value = Child(rule, "Value") ?? "";
                if (name == "prefix")
                {
                    prefix = value;
                }
                else if (name == "suffix")
                {
                    suffix = value;
                }
            }

            if ((prefix is null || change.Key.StartsWith(prefix, StringComparison.Ordinal)) && (suffix is null || change.Key.EndsWith(suffix, StringComparison.Ordinal)))
            {
                targets.Add(new Target(Child(config, "Id") ?? Guid.NewGuid().ToString(), function));
            }
        }

        return targets;
    }

    private static string? Child(XElement element, string name) => element.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim();

    /// <summary><c>s3:ObjectCreated:*</c> matches every ObjectCreated event; otherwise the names must be equal.</summary>
    private static bool Matches(string configured, string eventName)
    {
        var name = configured.StartsWith("s3:", StringComparison.Ordinal) ? configured[3..] : configured;
        return name.EndsWith(":*", StringComparison.Ordinal)
            ? eventName.StartsWith(name[..^1], StringComparison.Ordinal)
            : name == eventName;
    }

    /// <summary>A key as S3 events carry it: form-URL-encoded (a space is +, a + is %2B), the slashes kept.</summary>
    public static string EncodeKey(string key) => string.Join('/', key.Split('/').Select(WebUtility.UrlEncode));

    /// <summary>AWS's S3 event (eventVersion 2.1), the key URL-encoded as S3 encodes it (spaces as +).</summary>
    public static byte[] Event(ObjectNotification change, string configurationId, string region, string ownerId)
    {
        var sequencer = (change.Time.UtcTicks * 16 + (Interlocked.Increment(ref _sequencer) & 0xF)).ToString("X16", CultureInfo.InvariantCulture);
        var s3Object = new JsonObject { ["key"] = EncodeKey(change.Key) };
        if (change.EventName.StartsWith("ObjectCreated:", StringComparison.Ordinal))
        {
            s3Object["size"] = change.Size;
            s3Object["eTag"] = change.ETag;
        }

        s3Object["sequencer"] = sequencer;
        var record = new JsonObject
        {
            ["eventVersion"] = "2.1",
            ["eventSource"] = "aws:s3",
            ["awsRegion"] = region,
            ["eventTime"] = change.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["eventName"] = change.EventName,
            ["userIdentity"] = new JsonObject { ["principalId"] = ownerId },
            ["requestParameters"] = new JsonObject { ["sourceIPAddress"] = "127.0.0.1" },
            ["responseElements"] = new JsonObject { ["x-amz-request-id"] = change.RequestId, ["x-amz-id-2"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(change.RequestId)) },
            ["s3"] = new JsonObject
            {
                ["s3SchemaVersion"] = "1.0",
                ["configurationId"] = configurationId,
                ["bucket"] = new JsonObject
                {
                    ["name"] = change.Bucket,
                    ["ownerIdentity"] = new JsonObject { ["principalId"] = ownerId },
                    ["arn"] = "arn:aws:s3:::" + change.Bucket,
                },
                ["object"] = s3Object,
            },
        };
        return Encoding.UTF8.GetBytes(new JsonObject { ["Records"] = new JsonArray(record) }.ToJsonString());
    }
}
