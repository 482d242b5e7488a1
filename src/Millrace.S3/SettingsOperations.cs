namespace Millrace.S3;

/// <summary>ACL reads, bucket settings Millrace does not keep, and ListObjectVersions of an unversioned bucket.</summary>
public sealed partial class S3Service
{
    private async Task UnconfiguredAsync(S3Request r, int status, string code, string message)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        throw new S3Exception(status, code, message).With("BucketName", r.Bucket);
    }

    /// <summary>DeleteBucketPolicy, DeleteBucketCors, …: nothing to delete, 204 as S3 answers for an unset one.</summary>
    private async Task DeleteUnconfiguredAsync(S3Request r)
    {
        await RequireBucketAsync(r.Bucket!, r.Aborted);
        NoContent(r);
    }

    /// <summary>GetBucketAcl / GetObjectAcl: the owner has FULL_CONTROL (Millrace has no ACLs).</summary>
    private async Task GetAclAsync(S3Request r)
    {
        if (r.Key is null)
        {
            await RequireBucketAsync(r.Bucket!, r.Aborted);
        }
        else
        {
            await RequireObjectAsync(r);
        }

        var xml = S3Xml.Root("AccessControlPolicy");
        Owner(xml);
        xml.Open("AccessControlList").Open("Grant");
        xml.Raw("<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
        xml.Element("ID", OwnerId).Element("DisplayName", "millrace").Raw("</Grantee>");
        xml.Element("Permission", "FULL_CONTROL").Close().Close();
        await WriteXmlAsync(r, xml);
    }

    /// <summary>ListObjectVersions: every object is its only version, VersionId "null".</summary>
    private async Task ListObjectVersionsAsync(S3Request r)
    {
        var (bucket, prefix, delimiter, maxKeys, encoding) = await ListScopeAsync(r);
        var keyMarker = r.QueryValue("key-marker");
        var after = string.IsNullOrEmpty(keyMarker) ? null : keyMarker;
        if (after is not null && delimiter is not null && after.EndsWith(delimiter, StringComparison.Ordinal))
        {
            after += "\U0010FFFF";
        }

        var page = maxKeys == 0
            ? new Millrace.Storage.Objects.ListObjectsPage([], [], false, null)
            : await store.ListObjectsAsync(bucket, new Millrace.Storage.Objects.ListObjectsQuery(prefix.Length == 0 ? null : prefix, delimiter, after, maxKeys), r.Aborted);
        var xml = S3Xml.Root("ListVersionsResult").Element("Name", bucket).Element("Prefix", Encode(prefix, encoding))
            .Element("KeyMarker", Encode(keyMarker ?? "", encoding)).Element("VersionIdMarker", r.QueryValue("version-id-marker") ?? "");
        if (page.IsTruncated && page.NextMarker is { } next)
        {
            xml.Element("NextKeyMarker", Encode(next, encoding)).Element("NextVersionIdMarker", "null");
        }

        xml.Element("MaxKeys", maxKeys);
        if (delimiter is not null)
        {
            xml.Element("Delimiter", Encode(delimiter, encoding));
        }

        xml.Element("EncodingType", encoding).Element("IsTruncated", page.IsTruncated);
        foreach (var item in page.Contents)
        {
            var meta = ObjectMetadata.Decode(item.Metadata);
            xml.Open("Version").Element("Key", Encode(item.Key, encoding)).Element("VersionId", "null").Element("IsLatest", true)
                .Element("LastModified", item.LastModified).Element("ETag", Quote(item.ETag)).Element("Size", item.Size);
            Owner(xml);
            xml.Element("StorageClass", meta.StorageClass ?? "STANDARD").Close();
        }

        foreach (var common in page.CommonPrefixes)
        {
            xml.Open("CommonPrefixes").Element("Prefix", Encode(common, encoding)).Close();
        }

        await WriteXmlAsync(r, xml);
    }
}
