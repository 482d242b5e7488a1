using System.Globalization;
using System.Text;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, bucket tagging and notifications.</summary>
public sealed partial class S3Service
{
    internal const string BucketConfigTagging = "tagging";
    internal const string BucketConfigNotification = "notification";
    internal const string BucketConfigPolicy = "policy";

    private async Task ListBucketsAsync(S3Request r)
    {
        var all = await store.ListBucketsAsync(r.Aborted);
        int max = 10_000;
        var maxText = r.QueryValue("max-buckets");
        if (maxText is not null && (!int.TryParse(maxText, NumberStyles.None, CultureInfo.InvariantCulture, out max) || max < 1 || max > 10_000))
        {
            throw S3Errors.InvalidArgument("Argument max-buckets must be an integer between 1 and 10000", "max-buckets", maxText);
        }

        var prefix = r.QueryValue("prefix");
        var token = r.QueryValue("continuation-token");
        string? after = null;
        if (token is not null)
        {
            after = ContinuationToken.Decode(token) ?? throw S3Errors.InvalidArgument("The continuation token provided is incorrect", "continuation-token", token);
        }

        var selected = all.Where(b => (prefix is null || b.Name.StartsWith(prefix, StringComparison.Ordinal))
            && (after is null || string.CompareOrdinal(b.Name, after) > 0)).ToList();
        var page = selected.Take(max).ToList();
        var xml = S3Xml.Root("ListAllMyBucketsResult");
        Owner(xml);
        xml.Open("Buckets");
        foreach (var bucket in page)
        {
            xml.Open("Bucket").Element("Name", bucket.Name).Element("CreationDate", bucket.CreatedAt).Element("BucketRegion", bucket.Region).Close();
        }

        xml.Close();
        if (selected.Count > page.Count)
        {
            xml.Element("ContinuationToken", ContinuationToken.Encode(page[^1].Name));
        }

        xml.Element("Prefix", prefix);
        await WriteXmlAsync(r, xml);
    }

    private async Task CreateBucketAsync(S3Request r)
    {
        var bucket = r.Bucket!;
        if (!BucketNames.IsValid(bucket))
        {
            throw S3Errors.InvalidBucketName(bucket);
        }

        var region = options.Region;
        var body = await BodyIngest.ReadSmallBodyAsync(r, 64 * 1024);
        if (body.Length > 0 && !body.AsSpan().Trim((byte)' ').IsEmpty)
        {
            var root = S3Xml.Parse(body);
            if (root.Name != "CreateBucketConfiguration")
            {
                throw S3Errors.MalformedXml();
            }

            var location = root.ChildText("LocationConstraint")?.Trim();
            if (!string.IsNullOrEmpty(location))
            {
                if (location == "us-east-1")
                {
                    throw new S3Exception(400, "InvalidLocationConstraint", "The specified location-constraint is not valid").With("LocationConstraint", location);
                }

                region = location == "EU" ? "eu-west-1" : location;
            }
        }

        if (!await store.CreateBucketAsync(bucket, region, Clock.GetUtcNow(), r.Aborted))
        {
            // AWS keeps a legacy answer for us-east-1: re-creating a bucket you own there is 200 OK;
            // everywhere else it is 409 BucketAlreadyOwnedByYou.
            var existing = await store.GetBucketAsync(bucket, r.Aborted);
            if (existing is null || existing.Region != "us-east-1" || region != "us-east-1")
            {
                throw S3Errors.BucketAlreadyOwnedByYou(bucket);
            }
        }

        r.Response.Headers.Location = "/" + bucket;
        NoContent(r, 200);
    }

    private async Task HeadBucketAsync(S3Request r)
    {
        var bucket = await store.GetBucketAsync(r.Bucket!, r.Aborted);
        if (bucket is null)
        {
            throw S3Errors.NoSuchBucket(r.Bucket!);
        }

        r.Response.Headers["x-amz-bucket-region"] = bucket.Region;
        r.Response.Headers["x-amz-access-point-alias"] = "false";
        NoContent(r, 200);
    }

    private async Task DeleteBucketAsync(S3Request r)
    {
        switch (await store.DeleteBucketAsync(r.Bucket!, r.Aborted))
        {
            case DeleteBucketOutcome.NoSuchBucket:
                throw S3Errors.NoSuchBucket(r.Bucket!);
            case DeleteBucketOutcome.NotEmpty:
                throw S3Errors.BucketNotEmpty(r.Bucket!);
            default:
                NoContent(r);
                break;
        }
    }

    private async Task GetBucketLocationAsync(S3Request r)
    {
        var bucket = await RequireBucketAsync(r.Bucket!, r.Aborted);
        var element = bucket.Region == "us-east-1"
            ? "<LocationConstraint xmlns=\"" + S3Xml.Namespace + "\"/>"
            : "<LocationConstraint xmlns=\"" + S3Xml.Namespace + "\">" + S3Xml.Escape(bucket.Region) + "</LocationConstraint>";
        await WriteRawAsync(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + element);
    }

    private async Task GetBucketVersioningAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        await WriteRawAsync(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"" + S3Xml.Namespace + "\"/>");
    }

    private static Task WriteRawAsync(S3Request r, string xml) => WriteStoredAsync(r, Encoding.UTF8.GetBytes(xml), "application/xml");

    /// <summary>A 200 with a document as stored (a configuration's XML, a policy's JSON).</summary>
    private static async Task WriteStoredAsync(S3Request r, byte[] body, string contentType)
    {
        r.Response.StatusCode = 200;
        r.Response.ContentType = contentType;
        r.Response.ContentLength = body.Length;
        await r.Response.Body.WriteAsync(body, r.Aborted);
    }

    private async Task GetBucketTaggingAsync(S3Request r)
    {
        var stored = await store.GetBucketConfigAsync(r.Bucket!, BucketConfigTagging, r.Aborted);
        if (stored is null)
        {
            throw S3Errors.NoSuchTagSet(r.Bucket!);
        }

        var tags = System.Text.Json.JsonSerializer.Deserialize(stored, S3JsonContext.Default.ListKeyValuePairStringString) ?? [];
        await WriteXmlAsync(r, TaggingXml(tags));
    }

    private async Task PutBucketTaggingAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var tags = Tagging.ParseXml(await BodyIngest.ReadSmallBodyAsync(r, 256 * 1024), maxTags: 50);
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(tags, S3JsonContext.Default.ListKeyValuePairStringString);
        if (!await store.SetBucketConfigAsync(r.Bucket!, BucketConfigTagging, bytes, r.Aborted))
        {
            throw S3Errors.NoSuchBucket(r.Bucket!);
        }

        NoContent(r);
    }

    private async Task DeleteBucketTaggingAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        await store.SetBucketConfigAsync(r.Bucket!, BucketConfigTagging, null, r.Aborted);
        NoContent(r);
    }

    /// <summary>GetBucketPolicy: the document as it was put (JSON), or NoSuchBucketPolicy.</summary>
    private async Task GetBucketPolicyAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var stored = await store.GetBucketConfigAsync(r.Bucket!, BucketConfigPolicy, r.Aborted)
            ?? throw new S3Exception(404, "NoSuchBucketPolicy", "The bucket policy does not exist").With("BucketName", r.Bucket);
        await WriteStoredAsync(r, stored, "application/json");
    }

    /// <summary>PutBucketPolicy: a JSON policy document (at most 20 KB, as S3 allows); the front door enforces it.</summary>
    private async Task PutBucketPolicyAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var body = await BodyIngest.ReadSmallBodyAsync(r, 20 * 1024);
        if (!IsPolicyDocument(body))
        {
            throw new S3Exception(400, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'");
        }

        await store.SetBucketConfigAsync(r.Bucket!, BucketConfigPolicy, body, r.Aborted);
        _anyPolicy = (true, options.Clock.GetUtcNow().ToUnixTimeMilliseconds()); // root requests are checked from now on
        NoContent(r);
    }

    private async Task DeleteBucketPolicyAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        await store.SetBucketConfigAsync(r.Bucket!, BucketConfigPolicy, null, r.Aborted);
        NoContent(r);
    }

    private static bool IsPolicyDocument(byte[] body)
    {
        if (body.Length == 0 || body[0] != (byte)'{')
        {
            return false;
        }

        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("Statement", out _);
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private async Task GetBucketNotificationAsync(S3Request r)
    {
        var stored = await store.GetBucketConfigAsync(r.Bucket!, BucketConfigNotification, r.Aborted);
        if (stored is null)
        {
            await WriteRawAsync(r, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<NotificationConfiguration xmlns=\"" + S3Xml.Namespace + "\"/>");
            return;
        }

        await WriteStoredAsync(r, stored, "application/xml");
    }

    private async Task PutBucketNotificationAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var body = await BodyIngest.ReadSmallBodyAsync(r, 1024 * 1024);
        var root = S3Xml.Parse(body);
        if (root.Name != "NotificationConfiguration")
        {
            throw S3Errors.MalformedXml();
        }

        // Stored as given (Lambda triggers read it back through IBucketNotificationSource).
        var text = Encoding.UTF8.GetString(body).TrimStart('\uFEFF').Trim();
        if (!text.StartsWith("<?xml", StringComparison.Ordinal))
        {
            text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + text;
        }

        ReadOnlyMemory<byte>? value = null;
        if (root.Children.Count > 0)
        {
            value = Encoding.UTF8.GetBytes(text);
        }

        await store.SetBucketConfigAsync(r.Bucket!, BucketConfigNotification, value, r.Aborted);
        NoContent(r, 200);
    }

    private static S3Xml TaggingXml(IEnumerable<KeyValuePair<string, string>> tags)
    {
        var xml = S3Xml.Root("Tagging").Open("TagSet");
        foreach (var (key, value) in tags)
        {
            xml.Open("Tag").Element("Key", key).Element("Value", value).Close();
        }

        return xml.Close();
    }
}
