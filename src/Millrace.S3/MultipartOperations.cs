using System.Globalization;
using System.Security.Cryptography;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>CreateMultipartUpload, UploadPart, UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.</summary>
public sealed partial class S3Service
{
    private async Task CreateMultipartUploadAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var meta = MetadataFromHeaders(r);
        var algorithmHeader = r.Header("x-amz-checksum-algorithm");
        var typeHeader = r.Header("x-amz-checksum-type");
        if (algorithmHeader is null)
        {
            if (typeHeader is not null)
            {
                throw S3Errors.InvalidRequest("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.");
            }

            meta.ChecksumAlgorithm = Checksums.Name(ChecksumAlgorithm.Crc64Nvme);
            meta.ChecksumType = "FULL_OBJECT";
            meta.DefaultChecksum = true;
        }
        else
        {
            var algorithm = Checksums.Parse(algorithmHeader)
                ?? throw S3Errors.InvalidRequest("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
            var type = typeHeader?.ToUpperInvariant() ?? (algorithm == ChecksumAlgorithm.Crc64Nvme ? "FULL_OBJECT" : "COMPOSITE");
            if (type is not ("FULL_OBJECT" or "COMPOSITE"))
            {
                throw S3Errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.");
            }

            if (type == "FULL_OBJECT" && !Checksums.IsCrc(algorithm))
            {
                throw S3Errors.InvalidRequest($"The FULL_OBJECT checksum type cannot be used with the {Checksums.Name(algorithm).ToLowerInvariant()} checksum algorithm.");
            }

            if (type == "COMPOSITE" && algorithm == ChecksumAlgorithm.Crc64Nvme)
            {
                throw S3Errors.InvalidRequest("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.");
            }

            meta.ChecksumAlgorithm = Checksums.Name(algorithm);
            meta.ChecksumType = type;
            r.Response.Headers["x-amz-checksum-algorithm"] = meta.ChecksumAlgorithm;
            r.Response.Headers["x-amz-checksum-type"] = type;
        }

        var uploadId = await store.CreateMultipartUploadAsync(r.Bucket!, r.Key!, meta.Encode(), Clock.GetUtcNow(), r.Aborted);
        var xml = S3Xml.Root("InitiateMultipartUploadResult").Element("Bucket", r.Bucket).Element("Key", r.Key).Element("UploadId", uploadId);
        await WriteXmlAsync(r, xml);
    }

    private async Task<(MultipartUploadRecord Upload, ObjectMetadata Meta)> RequireUploadAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        var uploadId = r.QueryValue("uploadId") ?? "";
        var upload = uploadId.Length == 0 ? null : await store.GetMultipartUploadAsync(r.Bucket!, uploadId, r.Aborted);
        if (upload is null || upload.Key != r.Key)
        {
            throw S3Errors.NoSuchUpload(uploadId);
        }

        return (upload, ObjectMetadata.Decode(upload.Metadata));
    }

    private async Task UploadPartAsync(S3Request r)
    {
        var partNumber = ParsePartNumber(r.QueryValue("partNumber") ?? "");
        var (upload, uploadMeta) = await RequireUploadAsync(r);
        BodyIngest.PrepareBody(r, S3Limits.MaxPutSize);
        var required = PartAlgorithm(r, uploadMeta);
        await using var writer = await store.BeginPartAsync(r.Bucket!, upload.UploadId, partNumber, r.Aborted);
        var result = await BodyIngest.IngestAsync(r, writer.Content, S3Limits.MaxPutSize, required);
        await writer.Content.FlushAsync(r.Aborted);
        var partMeta = new ObjectMetadata { ChecksumAlgorithm = Checksums.Name(result.Algorithm), ChecksumValue = result.ChecksumBase64 };
        await writer.CommitPartAsync(result.ETag, partMeta.Encode(), Clock.GetUtcNow(), r.Aborted);
        r.Response.Headers.ETag = result.ETag;
        if (result.Checksum is not null)
        {
            r.Response.Headers[Checksums.HeaderName(result.Algorithm)] = result.ChecksumBase64;
        }

        NoContent(r, 200);
    }

    /// <summary>The algorithm a part must be checksummed with: the upload's, or S3's default unless the client chose one.</summary>
    private static ChecksumAlgorithm PartAlgorithm(S3Request r, ObjectMetadata uploadMeta)
    {
        if (uploadMeta.DefaultChecksum != true)
        {
            return uploadMeta.Algorithm;
        }

        return BodyIngest.RequestedChecksum(r, ChecksumAlgorithm.None).Algorithm == ChecksumAlgorithm.None ? ChecksumAlgorithm.Crc64Nvme : ChecksumAlgorithm.None;
    }

    private async Task UploadPartCopyAsync(S3Request r)
    {
        var partNumber = ParsePartNumber(r.QueryValue("partNumber") ?? "");
        var (upload, uploadMeta) = await RequireUploadAsync(r);
        await using var reader = await OpenCopySourceAsync(r);
        var source = reader.Object;
        var rangeHeader = r.Header("x-amz-copy-source-range");
        var range = rangeHeader is null ? new ByteRange(0, source.Size) : ByteRange.ParseCopySourceRange(rangeHeader, source.Size);
        if (range.Length > S3Limits.MaxPutSize)
        {
            throw S3Errors.InvalidRequest("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120");
        }

        var algorithm = uploadMeta.Algorithm;
        await using var writer = await store.BeginPartAsync(r.Bucket!, upload.UploadId, partNumber, r.Aborted);
        IngestResult result;
        await using (var stream = reader.OpenRange(range.Offset, range.Length))
        {
            result = await BodyIngest.CopyAsync(stream, writer.Content, algorithm, r.Aborted);
        }

        await writer.Content.FlushAsync(r.Aborted);
        var partMeta = new ObjectMetadata { ChecksumAlgorithm = Checksums.Name(result.Algorithm), ChecksumValue = result.ChecksumBase64 };
        var part = await writer.CommitPartAsync(result.ETag, partMeta.Encode(), Clock.GetUtcNow(), r.Aborted);
        var xml = S3Xml.Root("CopyPartResult").Element("ETag", result.ETag).Element("LastModified", part.LastModified);
        if (result.Checksum is not null)
        {
            xml.Element(Checksums.ElementName(result.Algorithm), result.ChecksumBase64);
        }

        await WriteXmlAsync(r, xml);
    }

    private async Task CompleteMultipartUploadAsync(S3Request r)
    {
        var (upload, uploadMeta) = await RequireUploadAsync(r);
        var body = await BodyIngest.ReadSmallBodyAsync(r, 4 * 1024 * 1024);
        var root = S3Xml.Parse(body);
        if (root.Name != "CompleteMultipartUpload")
        {
            throw S3Errors.MalformedXml();
        }

        var requested = new List<(int Number, string ETag, XmlNode Node)>();
        foreach (var node in root.All("Part"))
        {
            var numberText = node.ChildText("PartNumber")?.Trim();
            var etag = node.ChildText("ETag")?.Trim();
            if (numberText is null || etag is null || !int.TryParse(numberText, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
            {
                throw S3Errors.MalformedXml();
            }

            requested.Add((number, Unquote(etag), node));
        }

        if (requested.Count == 0)
        {
            throw S3Errors.MalformedXml();
        }

        for (int i = 1; i < requested.Count; i++)
        {
            if (requested[i].Number <= requested[i - 1].Number)
            {
                throw S3Errors.InvalidPartOrder(upload.UploadId);
            }
        }

        var committed = (await store.ListPartsAsync(r.Bucket!, upload.UploadId, 0, S3Limits.MaxPartNumber, r.Aborted)).ToDictionary(p => p.PartNumber);
        var parts = new List<PartRecord>(requested.Count);
        var algorithm = uploadMeta.Algorithm;
        foreach (var (number, etag, node) in requested)
        {
            if (!committed.TryGetValue(number, out var part) || Unquote(part.ETag) != etag)
            {
                throw S3Errors.InvalidPart(number, etag, upload.UploadId);
            }

            if (algorithm != ChecksumAlgorithm.None && node.ChildText(Checksums.ElementName(algorithm)) is { } given)
            {
                var partMeta = ObjectMetadata.Decode(part.Metadata);
                if (partMeta.ChecksumValue is not null && partMeta.Algorithm == algorithm && given.Trim() != partMeta.ChecksumValue)
                {
                    throw S3Errors.InvalidPart(number, etag, upload.UploadId);
                }
            }

            parts.Add(part);
        }

        for (int i = 0; i < parts.Count - 1; i++)
        {
            if (parts[i].Size < S3Limits.MinPartSize)
            {
                throw S3Errors.EntityTooSmall(parts[i].Size, parts[i].PartNumber, parts[i].ETag);
            }
        }

        if (r.Header("If-None-Match") is { } ifNoneMatch)
        {
            if (ifNoneMatch.Trim() != "*")
            {
                throw S3Errors.NotImplemented("If-None-Match");
            }

            if (await store.GetObjectAsync(r.Bucket!, r.Key!, r.Aborted) is not null)
            {
                throw S3Errors.PreconditionFailed("If-None-Match");
            }
        }

        // ETag: MD5 of the concatenated binary part MD5s, then -N.
        var md5s = new byte[parts.Count * 16];
        for (int i = 0; i < parts.Count; i++)
        {
            if (!TryHex(Unquote(parts[i].ETag), md5s.AsSpan(i * 16, 16)))
            {
                MD5.HashData(System.Text.Encoding.UTF8.GetBytes(parts[i].ETag)).CopyTo(md5s, i * 16);
            }
        }

        var etagValue = "\"" + Convert.ToHexStringLower(MD5.HashData(md5s)) + "-" + parts.Count.ToString(CultureInfo.InvariantCulture) + "\"";

        var meta = uploadMeta.Clone();
        meta.DefaultChecksum = null;
        meta.PartSizes = [.. parts.Select(p => p.Size)];
        meta.PartChecksums = null;
        meta.ChecksumValue = null;
        if (algorithm != ChecksumAlgorithm.None)
        {
            var partChecksums = new List<byte[]>(parts.Count);
            foreach (var part in parts)
            {
                var partMeta = ObjectMetadata.Decode(part.Metadata);
                if (partMeta.Algorithm != algorithm || Checksums.Decode(algorithm, partMeta.ChecksumValue) is not { } value)
                {
                    partChecksums.Clear();
                    break;
                }

                partChecksums.Add(value);
            }

            if (partChecksums.Count == parts.Count)
            {
                meta.PartChecksums = [.. partChecksums.Select(Convert.ToBase64String)];
                meta.ChecksumValue = meta.ChecksumType == "COMPOSITE"
                    ? Checksums.Composite(algorithm, partChecksums)
                    : Convert.ToBase64String(Checksums.CombineCrc(algorithm, [.. partChecksums.Select((c, i) => (c, parts[i].Size))]));
            }

            if (meta.ChecksumValue is null)
            {
                meta.ChecksumAlgorithm = null;
                meta.ChecksumType = null;
            }
            else if (meta.ChecksumType == "FULL_OBJECT" && r.Header(Checksums.HeaderName(algorithm)) is { } expected && expected.Trim() != meta.ChecksumValue)
            {
                throw S3Errors.ChecksumMismatch(Checksums.Name(algorithm));
            }
        }

        var record = await store.CompleteMultipartUploadAsync(r.Bucket!, upload.UploadId, [.. parts.Select(p => p.PartNumber)], meta.Encode(), etagValue, Clock.GetUtcNow(), r.Aborted);
        var location = $"{r.Request.Scheme}://{r.Request.Host}/{Uri.EscapeDataString(r.Bucket!)}/{string.Join('/', r.Key!.Split('/').Select(Uri.EscapeDataString))}";
        var xml = S3Xml.Root("CompleteMultipartUploadResult").Element("Location", location).Element("Bucket", r.Bucket).Element("Key", r.Key).Element("ETag", etagValue);
        if (meta.ChecksumValue is not null)
        {
            xml.Element(Checksums.ElementName(algorithm), meta.ChecksumValue).Element("ChecksumType", meta.ChecksumType);
        }

        await WriteXmlAsync(r, xml);
        await EmitAsync(r, "ObjectCreated:CompleteMultipartUpload", r.Key!, record.Size, etagValue);
    }

    private static bool TryHex(string hex, Span<byte> destination) =>
        hex.Length == destination.Length * 2 && Convert.FromHexString(hex, destination, out _, out int written) == System.Buffers.OperationStatus.Done && written == destination.Length;

    private async Task AbortMultipartUploadAsync(S3Request r)
    {
        var (upload, _) = await RequireUploadAsync(r);
        if (!await store.AbortMultipartUploadAsync(r.Bucket!, upload.UploadId, r.Aborted))
        {
            throw S3Errors.NoSuchUpload(upload.UploadId);
        }

        NoContent(r);
    }

    private async Task ListPartsAsync(S3Request r)
    {
        var (upload, uploadMeta) = await RequireUploadAsync(r);
        int maxParts = ParseMax(r, "max-parts", 1000);
        int marker = 0;
        var markerText = r.QueryValue("part-number-marker");
        if (!string.IsNullOrEmpty(markerText) && (!int.TryParse(markerText, NumberStyles.None, CultureInfo.InvariantCulture, out marker) || marker < 0))
        {
            throw S3Errors.InvalidArgument("Provided part-number-marker not an integer or within integer range", "part-number-marker", markerText);
        }

        var parts = maxParts == 0 ? [] : await store.ListPartsAsync(r.Bucket!, upload.UploadId, marker, maxParts + 1, r.Aborted);
        bool truncated = parts.Count > maxParts;
        var page = parts.Take(maxParts).ToList();
        var xml = S3Xml.Root("ListPartsResult").Element("Bucket", r.Bucket).Element("Key", r.Key).Element("UploadId", upload.UploadId)
            .Element("PartNumberMarker", marker).Element("NextPartNumberMarker", page.Count > 0 ? page[^1].PartNumber : 0)
            .Element("MaxParts", maxParts).Element("IsTruncated", truncated);
        foreach (var part in page)
        {
            xml.Open("Part").Element("PartNumber", part.PartNumber).Element("LastModified", part.LastModified).Element("ETag", Quote(part.ETag)).Element("Size", part.Size);
            var partMeta = ObjectMetadata.Decode(part.Metadata);
            if (partMeta.Algorithm != ChecksumAlgorithm.None)
            {
                xml.Element(Checksums.ElementName(partMeta.Algorithm), partMeta.ChecksumValue);
            }

            xml.Close();
        }

        Owner(xml, "Initiator");
        Owner(xml);
        xml.Element("StorageClass", uploadMeta.StorageClass ?? "STANDARD");
        if (uploadMeta.DefaultChecksum != true && uploadMeta.ChecksumAlgorithm is not null)
        {
            xml.Element("ChecksumAlgorithm", uploadMeta.ChecksumAlgorithm).Element("ChecksumType", uploadMeta.ChecksumType);
        }

        await WriteXmlAsync(r, xml);
    }

    private async Task ListMultipartUploadsAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        int maxUploads = ParseMax(r, "max-uploads", 1000);
        var prefix = r.QueryValue("prefix");
        var delimiter = r.QueryValue("delimiter");
        if (delimiter?.Length == 0)
        {
            delimiter = null;
        }

        var keyMarker = r.QueryValue("key-marker");
        var uploadIdMarker = r.QueryValue("upload-id-marker");
        var encoding = EncodingType(r);
        var uploads = maxUploads == 0 ? [] : await store.ListMultipartUploadsAsync(r.Bucket!, string.IsNullOrEmpty(prefix) ? null : prefix,
            string.IsNullOrEmpty(keyMarker) ? null : keyMarker, string.IsNullOrEmpty(uploadIdMarker) ? null : uploadIdMarker, maxUploads + 1, r.Aborted);

        var entries = new List<MultipartUploadRecord>();
        var prefixes = new List<string>();
        bool truncated = false;
        string? lastKey = null, lastUploadId = null;
        foreach (var upload in uploads)
        {
            string? common = null;
            if (delimiter is not null)
            {
                int start = prefix?.Length ?? 0;
                int at = upload.Key.IndexOf(delimiter, start, StringComparison.Ordinal);
                if (at >= 0)
                {
                    common = upload.Key[..(at + delimiter.Length)];
                }
            }

            if (common is not null && prefixes.Count > 0 && prefixes[^1] == common)
            {
                continue;
            }

            if (entries.Count + prefixes.Count == maxUploads)
            {
                truncated = true;
                break;
            }

            if (common is not null)
            {
                prefixes.Add(common);
            }
            else
            {
                entries.Add(upload);
            }

            lastKey = upload.Key;
            lastUploadId = upload.UploadId;
        }

        var xml = S3Xml.Root("ListMultipartUploadsResult").Element("Bucket", r.Bucket)
            .Element("KeyMarker", Encode(keyMarker ?? "", encoding)).Element("UploadIdMarker", uploadIdMarker ?? "");
        if (truncated)
        {
            xml.Element("NextKeyMarker", Encode(lastKey ?? "", encoding)).Element("NextUploadIdMarker", lastUploadId ?? "");
        }

        xml.Element("Delimiter", delimiter is null ? null : Encode(delimiter, encoding)).Element("Prefix", Encode(prefix ?? "", encoding))
            .Element("MaxUploads", maxUploads).Element("IsTruncated", truncated).Element("EncodingType", encoding);
        foreach (var upload in entries)
        {
            var meta = ObjectMetadata.Decode(upload.Metadata);
            xml.Open("Upload").Element("Key", Encode(upload.Key, encoding)).Element("UploadId", upload.UploadId);
            Owner(xml, "Initiator");
            Owner(xml);
            xml.Element("StorageClass", meta.StorageClass ?? "STANDARD").Element("Initiated", upload.Initiated);
            if (meta.DefaultChecksum != true && meta.ChecksumAlgorithm is not null)
            {
                xml.Element("ChecksumAlgorithm", meta.ChecksumAlgorithm).Element("ChecksumType", meta.ChecksumType);
            }

            xml.Close();
        }

        foreach (var common in prefixes)
        {
            xml.Open("CommonPrefixes").Element("Prefix", Encode(common, encoding)).Close();
        }

        await WriteXmlAsync(r, xml);
    }

    /// <summary>max-keys / max-parts / max-uploads: a non-negative integer, capped at 1000.</summary>
    private static int ParseMax(S3Request r, string name, int cap)
    {
        var text = r.QueryValue(name);
        if (string.IsNullOrEmpty(text))
        {
            return cap;
        }

        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
        {
            throw S3Errors.InvalidArgument($"Provided {name} not an integer or within integer range", name, text);
        }

        if (value < 0)
        {
            var camel = name switch { "max-keys" => "maxKeys", "max-parts" => "maxParts", _ => "maxUploads" };
            throw S3Errors.InvalidArgument($"Argument {camel} must be an integer between 0 and 2147483647", name, text);
        }

        return Math.Min(value, cap);
    }
}
