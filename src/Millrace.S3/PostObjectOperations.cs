using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Millrace.S3;

/// <summary>
/// PostObject: a browser form upload (<c>POST /bucket</c>, multipart/form-data with a <c>key</c> field, optional
/// representation fields and x-amz-meta-*, and the <c>file</c> last). The POST policy is not verified (Millrace
/// does not verify signatures).
/// </summary>
public sealed partial class S3Service
{
    private const int MaxFormField = 64 * 1024;

    private static S3Exception MalformedPost() =>
        new(400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.");

    private async Task PostObjectAsync(S3Request r)
    {
        var bucket = r.Bucket!;
        await RequireBucketAsync(bucket, r.Aborted);
        if (!MediaTypeHeaderValue.TryParse(r.Request.ContentType, out var mediaType)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            throw MalformedPost();
        }

        var sizeFeature = r.Http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = null;
        }

        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var reader = new MultipartReader(boundary, r.Request.Body) { BodyLengthLimit = null };
        MultipartSection? section;
        try
        {
            while ((section = await reader.ReadNextSectionAsync(r.Aborted)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) || disposition.Name.Value is null)
                {
                    throw MalformedPost();
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value!;
                if (name.Equals("file", StringComparison.OrdinalIgnoreCase))
                {
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "";
                    await StoreFormFileAsync(r, fields, section, fileName);
                    return;
                }

                using var text = new StreamReader(section.Body, Encoding.UTF8);
                var buffer = new char[MaxFormField + 1];
                int read = await text.ReadBlockAsync(buffer, r.Aborted);
                if (read > MaxFormField)
                {
                    throw new S3Exception(400, "MaxPostPreDataLengthExceeded", "Your POST request fields preceeding the upload file was too large.");
                }

                fields[name] = new string(buffer, 0, read);
            }
        }
        catch (IOException) when (!r.Aborted.IsCancellationRequested)
        {
            throw MalformedPost();
        }
        catch (InvalidDataException)
        {
            throw MalformedPost();
        }

        throw S3Errors.InvalidArgument("POST requires exactly one file upload per request.", "file", "0");
    }

    private async Task StoreFormFileAsync(S3Request r, Dictionary<string, string> fields, MultipartSection file, string fileName)
    {
        if (!fields.TryGetValue("key", out var keyTemplate) || keyTemplate.Length == 0)
        {
            throw S3Errors.InvalidArgument("Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", "key", null);
        }

        var key = keyTemplate.Replace("${filename}", fileName, StringComparison.Ordinal);
        S3Request.CheckKey(key);
        string? Field(string name) => fields.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
        var meta = new ObjectMetadata
        {
            ContentType = Field("Content-Type") ?? file.ContentType ?? "binary/octet-stream",
            ContentEncoding = Field("Content-Encoding"),
            CacheControl = Field("Cache-Control"),
            ContentDisposition = Field("Content-Disposition"),
            ContentLanguage = Field("Content-Language"),
            Expires = Field("Expires"),
        };
        var storageClass = Field("x-amz-storage-class");
        if (storageClass is not null)
        {
            meta.StorageClass = StorageClasses.Contains(storageClass) ? (storageClass == "STANDARD" ? null : storageClass)
                : throw new S3Exception(400, "InvalidStorageClass", "The storage class you specified is not valid").With("StorageClassRequested", storageClass);
        }

        foreach (var (name, value) in fields)
        {
            if (name.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            {
                (meta.User ??= []).Add(new(name["x-amz-meta-".Length..].ToLowerInvariant(), value));
            }
        }

        if (Field("tagging") is { } tagging)
        {
            var tags = Tagging.ParseXml(Encoding.UTF8.GetBytes(tagging), Tagging.MaxObjectTags);
            meta.Tags = tags.Count > 0 ? tags : null;
        }

        var algorithm = ChecksumAlgorithm.Crc64Nvme;
        byte[]? expected = null;
        foreach (var candidate in Checksums.All)
        {
            if (Field(Checksums.HeaderName(candidate)) is { } value)
            {
                algorithm = candidate;
                expected = Checksums.Decode(candidate, value) ?? throw S3Errors.InvalidRequest($"Value for {Checksums.HeaderName(candidate)} header is invalid.");
            }
        }

        await using var writer = await store.BeginObjectAsync(r.Bucket!, r.Aborted);
        var result = await BodyIngest.CopyAsync(file.Body, writer.Content, algorithm, r.Aborted, S3Limits.MaxPutSize);
        if (expected is not null && !expected.AsSpan().SequenceEqual(result.Checksum))
        {
            throw S3Errors.ChecksumMismatch(Checksums.Name(algorithm));
        }

        if (Field("Content-MD5") is { } md5 && md5 != Convert.ToBase64String(result.Md5))
        {
            throw S3Errors.BadDigest(md5, Convert.ToBase64String(result.Md5));
        }

        await writer.Content.FlushAsync(r.Aborted);
        meta.ChecksumAlgorithm = Checksums.Name(algorithm);
        meta.ChecksumValue = result.ChecksumBase64;
        meta.ChecksumType = "FULL_OBJECT";
        await writer.CommitAsync(key, meta.Encode(), result.ETag, Clock.GetUtcNow(), false, r.Aborted);

        var location = $"{r.Request.Scheme}://{r.Request.Host}/{Uri.EscapeDataString(r.Bucket!)}/{string.Join('/', key.Split('/').Select(Uri.EscapeDataString))}";
        r.Response.Headers.ETag = result.ETag;
        r.Response.Headers.Location = location;
        if ((Field("success_action_redirect") ?? Field("redirect")) is { } redirect && Uri.TryCreate(redirect, UriKind.Absolute, out var target))
        {
            var query = $"bucket={Uri.EscapeDataString(r.Bucket!)}&key={Uri.EscapeDataString(key)}&etag={Uri.EscapeDataString(result.ETag)}";
            r.Response.Headers.Location = target + (string.IsNullOrEmpty(target.Query) ? "?" : "&") + query;
            NoContent(r, 303);
        }
        else
        {
            switch (Field("success_action_status"))
            {
                case "200":
                    NoContent(r, 200);
                    break;
                case "201":
                    await WriteXmlAsync(r, new S3Xml().Open("PostResponse").Element("Location", location).Element("Bucket", r.Bucket)
                        .Element("Key", key).Element("ETag", result.ETag), 201);
                    break;
                default:
                    NoContent(r);
                    break;
            }
        }

        await EmitAsync(r, "ObjectCreated:Post", key, result.Length, result.ETag);
    }
}
