using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject, object tagging and attributes.</summary>
public sealed partial class S3Service
{
    private static readonly HashSet<string> StorageClasses = new(StringComparer.Ordinal)
    {
        "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
        "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
    };

    /// <summary>The representation headers, x-amz-meta-*, storage class and x-amz-tagging of a write request.</summary>
    private static ObjectMetadata MetadataFromHeaders(S3Request r, bool withTags = true)
    {
        var meta = new ObjectMetadata
        {
            ContentType = r.Header("Content-Type") is { Length: > 0 } type ? type : "binary/octet-stream",
            ContentEncoding = StripAwsChunked(r.Header("Content-Encoding")),
            CacheControl = r.Header("Cache-Control"),
            ContentDisposition = r.Header("Content-Disposition"),
            ContentLanguage = r.Header("Content-Language"),
            Expires = r.Header("Expires"),
            WebsiteRedirectLocation = r.Header("x-amz-website-redirect-location"),
        };

        var storageClass = r.Header("x-amz-storage-class");
        if (storageClass is not null)
        {
            if (!StorageClasses.Contains(storageClass))
            {
                throw new S3Exception(400, "InvalidStorageClass", "The storage class you specified is not valid").With("StorageClassRequested", storageClass);
            }

            meta.StorageClass = storageClass == "STANDARD" ? null : storageClass;
        }

        int size = 0;
        foreach (var (name, values) in r.Headers)
        {
            if (name.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            {
                var key = name["x-amz-meta-".Length..].ToLowerInvariant();
                var value = values.ToString();
                size += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
                (meta.User ??= []).Add(new(key, value));
            }
        }

        if (size > S3Limits.MaxUserMetadataBytes)
        {
            throw S3Errors.MetadataTooLarge(size);
        }

        if (withTags && r.Header("x-amz-tagging") is { } tagging)
        {
            var tags = Tagging.ParseHeader(tagging);
            meta.Tags = tags.Count > 0 ? tags : null;
        }

        return meta;
    }

    private static string? StripAwsChunked(string? contentEncoding)
    {
        if (string.IsNullOrEmpty(contentEncoding))
        {
            return null;
        }

        var kept = contentEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(e => !e.Equals("aws-chunked", StringComparison.OrdinalIgnoreCase));
        var joined = string.Join(",", kept);
        return joined.Length == 0 ? null : joined;
    }

    private static void SetChecksumHeaders(HttpResponse response, ObjectMetadata meta)
    {
        if (meta.Algorithm != ChecksumAlgorithm.None && meta.ChecksumValue is not null)
        {
            response.Headers[Checksums.HeaderName(meta.Algorithm)] = meta.ChecksumValue;
            response.Headers["x-amz-checksum-type"] = meta.ChecksumType ?? "FULL_OBJECT";
        }
    }

    private async Task PutObjectAsync(S3Request r)
    {
        var bucket = r.Bucket!;
        var key = r.Key!;
        BodyIngest.PrepareBody(r, S3Limits.MaxPutSize);
        var meta = MetadataFromHeaders(r);
        bool onlyIfAbsent = false;
        var ifNoneMatch = r.Header("If-None-Match");
        if (ifNoneMatch is not null)
        {
            if (ifNoneMatch.Trim() != "*")
            {
                throw S3Errors.NotImplemented("If-None-Match");
            }

            onlyIfAbsent = true;
        }

        var ifMatch = r.Header("If-Match");
        if (ifMatch is not null)
        {
            var existing = await store.GetObjectAsync(bucket, key, r.Aborted);
            if (existing is null)
            {
                await RequireBucketAsync(bucket, r.Aborted);
                throw S3Errors.NoSuchKey(key);
            }

            if (!Conditions.Matches(ifMatch, Unquote(existing.ETag)))
            {
                throw S3Errors.PreconditionFailed("If-Match");
            }
        }

        await using var writer = await store.BeginObjectAsync(bucket, r.Aborted);
        var result = await BodyIngest.IngestAsync(r, writer.Content, S3Limits.MaxPutSize, DefaultAlgorithm(r));
        await writer.Content.FlushAsync(r.Aborted);
        meta.ChecksumAlgorithm = Checksums.Name(result.Algorithm);
        meta.ChecksumValue = result.ChecksumBase64;
        meta.ChecksumType = "FULL_OBJECT";
        var etag = result.ETag;
        var record = await writer.CommitAsync(key, meta.Encode(), etag, Clock.GetUtcNow(), onlyIfAbsent, r.Aborted);
        if (record is null)
        {
            throw S3Errors.PreconditionFailed("If-None-Match");
        }

        r.Response.Headers.ETag = etag;
        // S3 returns the checksum it stored, its default CRC64NVME included.
        SetChecksumHeaders(r.Response, meta);

        NoContent(r, 200);
        await EmitAsync(r, "ObjectCreated:Put", key, result.Length, etag);
    }

    /// <summary>S3 gives every new object a CRC64NVME checksum unless the client chose another algorithm.</summary>
    private static ChecksumAlgorithm DefaultAlgorithm(S3Request r) =>
        BodyIngest.RequestedChecksum(r, ChecksumAlgorithm.None).Algorithm == ChecksumAlgorithm.None ? ChecksumAlgorithm.Crc64Nvme : ChecksumAlgorithm.None;

    private async Task GetObjectAsync(S3Request r, bool head)
    {
        var bucket = r.Bucket!;
        var key = r.Key!;
        int? partNumber = null;
        var partText = r.QueryValue("partNumber");
        if (partText is not null)
        {
            partNumber = ParsePartNumber(partText);
        }

        if (partNumber is not null && r.Header("Range") is not null)
        {
            throw S3Errors.InvalidRequest("Cannot specify both Range header and partNumber query parameter");
        }

        await using var reader = await store.OpenObjectAsync(bucket, key, r.Aborted);
        if (reader is null)
        {
            await RequireBucketAsync(bucket, r.Aborted);
            throw S3Errors.NoSuchKey(key);
        }

        var record = reader.Object;
        var meta = ObjectMetadata.Decode(record.Metadata);
        var (outcome, condition) = Conditions.Evaluate(r, record);
        if (outcome == Conditions.Outcome.PreconditionFailed)
        {
            throw S3Errors.PreconditionFailed(condition!);
        }

        if (outcome == Conditions.Outcome.NotModified)
        {
            r.Response.StatusCode = 304;
            r.Response.Headers.ETag = Quote(record.ETag);
            r.Response.Headers.LastModified = Conditions.HttpDate(record.LastModified);
            return;
        }

        ByteRange? range = null;
        bool wholeObject = true;
        if (partNumber is { } part)
        {
            int count = Math.Max(record.PartCount, 1);
            if (part > count)
            {
                throw S3Errors.InvalidPartNumber(part, count);
            }

            if (record.PartCount > 0)
            {
                if (meta.PartSizes is { } sizes && sizes.Length == record.PartCount)
                {
                    long offset = 0;
                    for (int i = 0; i < part - 1; i++)
                    {
                        offset += sizes[i];
                    }

                    range = new ByteRange(offset, sizes[part - 1]);
                    wholeObject = record.PartCount == 1;
                }

                r.Response.Headers["x-amz-mp-parts-count"] = record.PartCount.ToString(CultureInfo.InvariantCulture);
            }
        }
        else
        {
            range = ByteRange.Parse(r.Header("Range"), record.Size);
            wholeObject = range is null;
        }

        WriteObjectHeaders(r, record, meta, head);
        if (r.Header("x-amz-checksum-mode")?.Equals("ENABLED", StringComparison.OrdinalIgnoreCase) == true)
        {
            if (wholeObject)
            {
                SetChecksumHeaders(r.Response, meta);
            }
            else if (partNumber is { } p && meta.PartChecksums is { } partChecksums && p <= partChecksums.Length && meta.ChecksumType == "COMPOSITE")
            {
                r.Response.Headers[Checksums.HeaderName(meta.Algorithm)] = partChecksums[p - 1];
                r.Response.Headers["x-amz-checksum-type"] = "COMPOSITE";
            }
        }

        long start = range?.Offset ?? 0;
        long length = range?.Length ?? record.Size;
        if (range is { } rg && (partNumber is null || record.PartCount > 0))
        {
            r.Response.StatusCode = 206;
            r.Response.Headers.ContentRange = rg.ContentRange(record.Size);
        }
        else
        {
            r.Response.StatusCode = 200;
        }

        r.Response.ContentLength = length;
        if (head || length == 0)
        {
            return;
        }

        await reader.CopyToAsync(r.Response.Body, start, length, r.Aborted);
    }

    private static void WriteObjectHeaders(S3Request r, ObjectRecord record, ObjectMetadata meta, bool head)
    {
        var headers = r.Response.Headers;
        headers.ETag = Quote(record.ETag);
        headers.LastModified = Conditions.HttpDate(record.LastModified);
        headers.AcceptRanges = "bytes";
        headers.ContentType = r.QueryValue("response-content-type") ?? meta.ContentType ?? "binary/octet-stream";
        SetIf(headers, "Content-Encoding", r.QueryValue("response-content-encoding") ?? meta.ContentEncoding);
        SetIf(headers, "Cache-Control", r.QueryValue("response-cache-control") ?? meta.CacheControl);
        SetIf(headers, "Content-Disposition", r.QueryValue("response-content-disposition") ?? meta.ContentDisposition);
        SetIf(headers, "Content-Language", r.QueryValue("response-content-language") ?? meta.ContentLanguage);
        SetIf(headers, "Expires", r.QueryValue("response-expires") ?? meta.Expires);
        SetIf(headers, "x-amz-storage-class", meta.StorageClass);
        SetIf(headers, "x-amz-website-redirect-location", meta.WebsiteRedirectLocation);
        if (meta.User is not null)
        {
            foreach (var (name, value) in meta.User)
            {
                headers["x-amz-meta-" + name] = value;
            }
        }

        if (!head && meta.Tags is { Count: > 0 } tags)
        {
            headers["x-amz-tagging-count"] = tags.Count.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static void SetIf(IHeaderDictionary headers, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            headers[name] = value;
        }
    }

    private async Task DeleteObjectAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var ifMatch = r.Header("If-Match");
        if (ifMatch is not null)
        {
            var existing = await store.GetObjectAsync(r.Bucket!, r.Key!, r.Aborted);
            if (existing is null)
            {
                throw S3Errors.NoSuchKey(r.Key!);
            }

            if (!Conditions.Matches(ifMatch, Unquote(existing.ETag)))
            {
                throw S3Errors.PreconditionFailed("If-Match");
            }
        }

        bool existed = await store.DeleteObjectAsync(r.Bucket!, r.Key!, r.Aborted);
        NoContent(r);
        if (existed)
        {
            await EmitAsync(r, "ObjectRemoved:Delete", r.Key!, 0, null);
        }
    }

    private async Task DeleteObjectsAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var body = await BodyIngest.ReadSmallBodyAsync(r, 2 * 1024 * 1024);
        var root = S3Xml.Parse(body);
        if (root.Name != "Delete")
        {
            throw S3Errors.MalformedXml();
        }

        var objects = root.All("Object").ToList();
        if (objects.Count == 0 || objects.Count > S3Limits.MaxDeleteObjects)
        {
            throw S3Errors.MalformedXml();
        }

        bool quiet = string.Equals(root.ChildText("Quiet")?.Trim(), "true", StringComparison.OrdinalIgnoreCase);
        var xml = S3Xml.Root("DeleteResult");
        var removed = new List<string>();
        foreach (var item in objects)
        {
            var key = item.ChildText("Key");
            if (key is null)
            {
                throw S3Errors.MalformedXml();
            }

            if (Encoding.UTF8.GetByteCount(key) > S3Limits.MaxKeyBytes)
            {
                xml.Open("Error").Element("Key", key).Element("Code", "KeyTooLongError").Element("Message", "Your key is too long").Close();
                continue;
            }

            if (key.Length == 0)
            {
                xml.Open("Error").Element("Key", key).Element("Code", "InvalidArgument").Element("Message", "Invalid argument.").Close();
                continue;
            }

            if (await store.DeleteObjectAsync(r.Bucket!, key, r.Aborted))
            {
                removed.Add(key);
            }

            if (!quiet)
            {
                xml.Open("Deleted").Element("Key", key);
                if (item.ChildText("VersionId") is { } versionId)
                {
                    xml.Element("VersionId", versionId);
                }

                xml.Close();
            }
        }

        await WriteXmlAsync(r, xml);
        foreach (var key in removed)
        {
            await EmitAsync(r, "ObjectRemoved:Delete", key, 0, null);
        }
    }

    /// <summary>x-amz-copy-source: <c>[/]bucket/key[?versionId=…]</c>, URL-encoded.</summary>
    internal static (string Bucket, string Key) ParseCopySource(string header)
    {
        var value = header;
        int q = value.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            value = value[..q];
        }

        value = Uri.UnescapeDataString(value);
        if (value.StartsWith('/'))
        {
            value = value[1..];
        }

        int slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == value.Length - 1)
        {
            throw S3Errors.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey", "x-amz-copy-source", header);
        }

        return (value[..slash], value[(slash + 1)..]);
    }

    /// <summary>The copy source, opened, with the x-amz-copy-source-if-* conditions checked (412 on any failure).</summary>
    private async Task<IObjectReader> OpenCopySourceAsync(S3Request r)
    {
        var (sourceBucket, sourceKey) = ParseCopySource(r.Header("x-amz-copy-source")!);
        S3Request.CheckKey(sourceKey);
        var reader = await store.OpenObjectAsync(sourceBucket, sourceKey, r.Aborted);
        if (reader is null)
        {
            await RequireBucketAsync(sourceBucket, r.Aborted);
            throw S3Errors.NoSuchKey(sourceKey);
        }

        var (outcome, condition) = Conditions.Evaluate(r, reader.Object,
            "x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match", "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since");
        if (outcome != Conditions.Outcome.Proceed)
        {
            await reader.DisposeAsync();
            throw S3Errors.PreconditionFailed(condition!);
        }

        return reader;
    }

    private async Task CopyObjectAsync(S3Request r)
    {
        var (sourceBucket, sourceKey) = ParseCopySource(r.Header("x-amz-copy-source")!);
        var directive = r.Header("x-amz-metadata-directive") ?? "COPY";
        if (directive is not ("COPY" or "REPLACE"))
        {
            throw S3Errors.InvalidArgument("Unknown metadata directive.", "x-amz-metadata-directive", directive);
        }

        var taggingDirective = r.Header("x-amz-tagging-directive") ?? "COPY";
        if (taggingDirective is not ("COPY" or "REPLACE"))
        {
            throw S3Errors.InvalidArgument("Unknown tagging directive.", "x-amz-tagging-directive", taggingDirective);
        }

        bool sameObject = sourceBucket == r.Bucket && sourceKey == r.Key;
        if (sameObject && directive == "COPY" && r.Header("x-amz-storage-class") is null && r.Header("x-amz-website-redirect-location") is null
            && r.Header("x-amz-server-side-encryption") is null && r.Header("x-amz-checksum-algorithm") is null)
        {
            throw S3Errors.InvalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
        }

        await RequireBucketAsync(r.Bucket!, r.Aborted);
        await using var reader = await OpenCopySourceAsync(r);
        var source = reader.Object;
        if (source.Size > S3Limits.MaxPutSize)
        {
            throw new S3Exception(400, "InvalidRequest", "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120");
        }

        var sourceMeta = ObjectMetadata.Decode(source.Metadata);
        ObjectMetadata meta;
        if (directive == "REPLACE")
        {
            meta = MetadataFromHeaders(r, withTags: false);
        }
        else
        {
            meta = sourceMeta.Clone();
            meta.PartSizes = null;
            meta.PartChecksums = null;
            if (r.Header("x-amz-storage-class") is not null)
            {
                meta.StorageClass = MetadataFromHeaders(r, withTags: false).StorageClass;
            }
        }

        meta.Tags = taggingDirective == "REPLACE"
            ? (r.Header("x-amz-tagging") is { } tagging && Tagging.ParseHeader(tagging) is { Count: > 0 } tags ? tags : null)
            : sourceMeta.Tags;

        var algorithm = Checksums.Parse(r.Header("x-amz-checksum-algorithm")) ?? (sourceMeta.Algorithm != ChecksumAlgorithm.None ? sourceMeta.Algorithm : ChecksumAlgorithm.Crc64Nvme);
        await using var writer = await store.BeginObjectAsync(r.Bucket!, r.Aborted);
        IngestResult result;
        await using (var stream = reader.OpenRange(0, source.Size))
        {
            result = await BodyIngest.CopyAsync(stream, writer.Content, algorithm, r.Aborted);
        }

        await writer.Content.FlushAsync(r.Aborted);
        meta.ChecksumAlgorithm = Checksums.Name(algorithm);
        meta.ChecksumValue = result.ChecksumBase64;
        meta.ChecksumType = "FULL_OBJECT";
        var now = Clock.GetUtcNow();
        var record = await writer.CommitAsync(r.Key!, meta.Encode(), result.ETag, now, false, r.Aborted);
        var xml = S3Xml.Root("CopyObjectResult").Element("ETag", result.ETag).Element("LastModified", record?.LastModified ?? now);
        xml.Element("ChecksumType", "FULL_OBJECT").Element(Checksums.ElementName(algorithm), result.ChecksumBase64);

        await WriteXmlAsync(r, xml);
        await EmitAsync(r, "ObjectCreated:Copy", r.Key!, result.Length, result.ETag);
    }

    private async Task<(ObjectRecord Record, ObjectMetadata Meta)> RequireObjectAsync(S3Request r)
    {
        var record = await store.GetObjectAsync(r.Bucket!, r.Key!, r.Aborted);
        if (record is null)
        {
            await RequireBucketAsync(r.Bucket!, r.Aborted);
            throw S3Errors.NoSuchKey(r.Key!);
        }

        return (record, ObjectMetadata.Decode(record.Metadata));
    }

    private async Task GetObjectTaggingAsync(S3Request r)
    {
        var (_, meta) = await RequireObjectAsync(r);
        await WriteXmlAsync(r, TaggingXml(meta.Tags ?? []));
    }

    private async Task PutObjectTaggingAsync(S3Request r)
    {
        var body = await BodyIngest.ReadSmallBodyAsync(r, 64 * 1024);
        var tags = Tagging.ParseXml(body, Tagging.MaxObjectTags);
        await UpdateTagsAsync(r, tags.Count > 0 ? tags : null);
        NoContent(r, 200);
    }

    private async Task DeleteObjectTaggingAsync(S3Request r)
    {
        await UpdateTagsAsync(r, null);
        NoContent(r);
    }

    private async Task UpdateTagsAsync(S3Request r, List<KeyValuePair<string, string>>? tags)
    {
        // A concurrent overwrite may slip in between the read and the update; retry a few times on a changed object.
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var (record, meta) = await RequireObjectAsync(r);
            meta.Tags = tags;
            if (await store.UpdateObjectMetadataAsync(r.Bucket!, r.Key!, meta.Encode(), r.Aborted))
            {
                return;
            }
        }

        throw S3Errors.NoSuchKey(r.Key!);
    }

    private async Task GetObjectAttributesAsync(S3Request r)
    {
        var (record, meta) = await RequireObjectAsync(r);
        var wanted = r.Header("x-amz-object-attributes") ?? "";
        var names = new HashSet<string>(wanted.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.Ordinal);
        if (names.Count == 0)
        {
            throw S3Errors.InvalidArgument("Invalid attribute name specified.", "x-amz-object-attributes", wanted);
        }

        r.Response.Headers.LastModified = Conditions.HttpDate(record.LastModified);
        var xml = S3Xml.Root("GetObjectAttributesResponse");
        if (names.Contains("ETag"))
        {
            xml.Element("ETag", Unquote(record.ETag));
        }

        if (names.Contains("Checksum") && meta.Algorithm != ChecksumAlgorithm.None && meta.ChecksumValue is not null)
        {
            var value = meta.ChecksumValue;
            int dash = value.IndexOf('-', StringComparison.Ordinal);
            xml.Open("Checksum").Element(Checksums.ElementName(meta.Algorithm), dash > 0 ? value[..dash] : value).Element("ChecksumType", meta.ChecksumType ?? "FULL_OBJECT").Close();
        }

        if (names.Contains("ObjectParts") && record.PartCount > 0)
        {
            xml.Open("ObjectParts").Element("TotalPartsCount", record.PartCount).Close();
        }

        if (names.Contains("StorageClass"))
        {
            xml.Element("StorageClass", meta.StorageClass ?? "STANDARD");
        }

        if (names.Contains("ObjectSize"))
        {
            xml.Element("ObjectSize", record.Size);
        }

        await WriteXmlAsync(r, xml);
    }

    private static int ParsePartNumber(string text)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int part) || part < 1 || part > S3Limits.MaxPartNumber)
        {
            throw S3Errors.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", text);
        }

        return part;
    }
}
