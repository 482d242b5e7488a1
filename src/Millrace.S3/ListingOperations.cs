using System.Text;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>ListObjectsV2 and ListObjects (v1).</summary>
public sealed partial class S3Service
{
    private async Task ListObjectsAsync(S3Request r, bool v2)
    {
        var (bucket, prefix, delimiter, maxKeys, encoding) = await ListScopeAsync(r);
        bool fetchOwner = !v2 || string.Equals(r.QueryValue("fetch-owner"), "true", StringComparison.OrdinalIgnoreCase);

        string? token = v2 ? r.QueryValue("continuation-token") : null;
        var startAfterParam = v2 ? r.QueryValue("start-after") : null;
        var marker = v2 ? null : r.QueryValue("marker");
        string? after;
        if (token is not null)
        {
            after = ContinuationToken.Decode(token) ?? throw S3Errors.InvalidArgument("The continuation token provided is incorrect", "continuation-token", token);
        }
        else
        {
            after = v2 ? startAfterParam : marker;
        }

        if (string.IsNullOrEmpty(after))
        {
            after = null;
        }

        ListObjectsPage page;
        if (maxKeys == 0)
        {
            page = new ListObjectsPage([], [], false, null);
        }
        else
        {
            var storeAfter = after;
            if (after is not null && delimiter is not null && after.StartsWith(prefix, StringComparison.Ordinal)
                && after.EndsWith(delimiter, StringComparison.Ordinal) && after.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal) == after.Length - delimiter.Length)
            {
                // The marker is a common prefix returned last time: skip every key under it.
                storeAfter = after + "\U0010FFFF";
            }

            page = await store.ListObjectsAsync(bucket, new ListObjectsQuery(prefix.Length == 0 ? null : prefix, delimiter, storeAfter, maxKeys), r.Aborted);
            if (after is not null && page.CommonPrefixes.Contains(after))
            {
                page = page with { CommonPrefixes = [.. page.CommonPrefixes.Where(p => p != after)] };
            }
        }

        string? next = null;
        if (page.IsTruncated)
        {
            next = page.NextMarker;
            if (next is null)
            {
                var lastKey = page.Contents.Count > 0 ? page.Contents[^1].Key : null;
                var lastPrefix = page.CommonPrefixes.Count > 0 ? page.CommonPrefixes[^1] : null;
                next = lastKey is null ? lastPrefix : lastPrefix is null ? lastKey : CompareUtf8(lastKey, lastPrefix) > 0 ? lastKey : lastPrefix;
            }
        }

        var xml = S3Xml.Root("ListBucketResult").Element("Name", bucket).Element("Prefix", Encode(prefix, encoding));
        if (v2)
        {
            if (token is not null)
            {
                xml.Element("ContinuationToken", token);
            }

            if (startAfterParam is not null)
            {
                xml.Element("StartAfter", Encode(startAfterParam, encoding));
            }

            xml.Element("KeyCount", page.Contents.Count + page.CommonPrefixes.Count);
        }
        else
        {
            xml.Element("Marker", Encode(marker ?? "", encoding));
            if (next is not null)
            {
                xml.Element("NextMarker", Encode(next, encoding));
            }
        }

        xml.Element("MaxKeys", maxKeys);
        if (delimiter is not null)
        {
            xml.Element("Delimiter", Encode(delimiter, encoding));
        }

        xml.Element("EncodingType", encoding).Element("IsTruncated", page.IsTruncated);
        if (v2 && next is not null)
        {
            xml.Element("NextContinuationToken", ContinuationToken.Encode(next));
        }

        foreach (var item in page.Contents)
        {
            var meta = ObjectMetadata.Decode(item.Metadata);
            xml.Open("Contents").Element("Key", Encode(item.Key, encoding)).Element("LastModified", item.LastModified).Element("ETag", Quote(item.ETag));
            if (meta.ChecksumAlgorithm is not null && meta.ChecksumValue is not null)
            {
                xml.Element("ChecksumAlgorithm", meta.ChecksumAlgorithm).Element("ChecksumType", meta.ChecksumType ?? "FULL_OBJECT");
            }

            xml.Element("Size", item.Size);
            if (fetchOwner)
            {
                Owner(xml);
            }

            xml.Element("StorageClass", meta.StorageClass ?? "STANDARD").Close();
        }

        foreach (var common in page.CommonPrefixes)
        {
            xml.Open("CommonPrefixes").Element("Prefix", Encode(common, encoding)).Close();
        }

        await WriteXmlAsync(r, xml);
    }

    /// <summary>Compares two keys in UTF-8 byte order (the store's order).</summary>
    internal static int CompareUtf8(string a, string b) =>
        Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>The parameters every listing shares: the bucket (which must exist), prefix, delimiter, max-keys and encoding-type.</summary>
    private async Task<(string Bucket, string Prefix, string? Delimiter, int MaxKeys, string? Encoding)> ListScopeAsync(S3Request r)
    {
        var bucket = r.Bucket!;
        await RequireBucketAsync(bucket, r.Aborted);
        var delimiter = r.QueryValue("delimiter");
        return (bucket, r.QueryValue("prefix") ?? "", delimiter?.Length == 0 ? null : delimiter, ParseMax(r, "max-keys", 1000), EncodingType(r));
    }

    /// <summary>encoding-type: only "url".</summary>
    private static string? EncodingType(S3Request r)
    {
        var value = r.QueryValue("encoding-type");
        if (value is null)
        {
            return null;
        }

        if (!value.Equals("url", StringComparison.OrdinalIgnoreCase))
        {
            throw S3Errors.InvalidArgument("Invalid Encoding Method specified in Request", "encoding-type", value);
        }

        return "url";
    }

    private static string Encode(string value, string? encoding) => encoding is null ? value : UrlEncode(value);

    /// <summary>
    /// S3's encoding-type=url: every UTF-8 byte but the unreserved characters and '/' as %XX (a space is %20,
    /// a '+' is %2B).
    /// </summary>
    internal static string UrlEncode(string value)
    {
        var sb = new StringBuilder(value.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or '/')
            {
                sb.Append(c);
                continue;
            }

            int length = char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])
                ? Encoding.UTF8.GetBytes(value.AsSpan(i++, 2), utf8)
                : Encoding.UTF8.GetBytes(value.AsSpan(i, 1), utf8);
            for (int b = 0; b < length; b++)
            {
                sb.Append('%').Append(utf8[b].ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }
}
