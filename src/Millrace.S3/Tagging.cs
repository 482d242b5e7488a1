using System.Text;

namespace Millrace.S3;

/// <summary>Tag sets: the Tagging XML document and the x-amz-tagging header (a URL-encoded query string).</summary>
internal static class Tagging
{
    public const int MaxObjectTags = 10;

    public static List<KeyValuePair<string, string>> ParseXml(byte[] body, int maxTags)
    {
        var root = S3Xml.Parse(body);
        var tagSet = root.Name == "Tagging" ? root.Child("TagSet") : null;
        if (tagSet is null)
        {
            throw S3Errors.MalformedXml();
        }

        var tags = new List<KeyValuePair<string, string>>();
        foreach (var tag in tagSet.All("Tag"))
        {
            var key = tag.ChildText("Key") ?? throw S3Errors.MalformedXml();
            tags.Add(new(key, tag.ChildText("Value") ?? ""));
        }

        Validate(tags, maxTags);
        return tags;
    }

    /// <summary>x-amz-tagging: <c>k1=v1&amp;k2=v2</c>, URL-encoded.</summary>
    public static List<KeyValuePair<string, string>> ParseHeader(string header)
    {
        var tags = new List<KeyValuePair<string, string>>();
        foreach (var pair in header.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Unescape(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Unescape(pair[(eq + 1)..]);
            tags.Add(new(key, value));
        }

        Validate(tags, MaxObjectTags);
        return tags;
    }

    private static string Unescape(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));

    public static void Validate(List<KeyValuePair<string, string>> tags, int maxTags)
    {
        if (tags.Count > maxTags)
        {
            throw maxTags == MaxObjectTags
                ? new S3Exception(400, "BadRequest", "Object tags cannot be greater than 10")
                : S3Errors.InvalidTag("Bucket tag count cannot be greater than 50");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            if (key.Length == 0 || key.Length > 128)
            {
                throw S3Errors.InvalidTag(key.Length == 0 ? "The TagKey you have provided is invalid" : "The TagKey you have provided is too long, max 128");
            }

            if (value.Length > 256)
            {
                throw S3Errors.InvalidTag("The TagValue you have provided is too long, max 256");
            }

            if (key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase))
            {
                throw S3Errors.InvalidTag("Your TagKey cannot be prefixed with aws:");
            }

            if (!seen.Add(key))
            {
                throw S3Errors.InvalidTag("Cannot provide multiple Tags with the same key");
            }
        }
    }
}

/// <summary>Opaque list continuation tokens: base64 of a version byte and the UTF-8 of the last key returned.</summary>
internal static class ContinuationToken
{
    private const byte Version = 1;

    public static string Encode(string lastKey)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(lastKey) + 1];
        bytes[0] = Version;
        Encoding.UTF8.GetBytes(lastKey, bytes.AsSpan(1));
        return Convert.ToBase64String(bytes);
    }

    /// <summary>The key of a token, or null when the token is not one of ours.</summary>
    public static string? Decode(string token)
    {
        if (token.Length == 0 || token.Length > 4096)
        {
            return null;
        }

        var bytes = new byte[(token.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(token, bytes, out int written) || written < 1 || bytes[0] != Version)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes, 1, written - 1);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
