namespace Millrace.S3;

/// <summary>An S3 error response: HTTP status, code, message and the extra elements S3 adds to the Error XML.</summary>
public sealed class S3Exception(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;

    public string Code { get; } = code;

    /// <summary>Extra child elements of &lt;Error&gt;, e.g. BucketName, Key, ArgumentName.</summary>
    public List<KeyValuePair<string, string>> Fields { get; } = [];

    /// <summary>Extra response headers (e.g. x-amz-bucket-region on HEAD errors).</summary>
    public List<KeyValuePair<string, string>> Headers { get; } = [];

    public S3Exception With(string name, string? value)
    {
        if (value is not null)
        {
            Fields.Add(new(name, value));
        }

        return this;
    }
}

/// <summary>S3's error codes, statuses and messages.</summary>
internal static class S3Errors
{
    public static S3Exception NoSuchBucket(string bucket) =>
        new S3Exception(404, "NoSuchBucket", "The specified bucket does not exist").With("BucketName", bucket);

    public static S3Exception NoSuchKey(string key) =>
        new S3Exception(404, "NoSuchKey", "The specified key does not exist.").With("Key", key);

    public static S3Exception NoSuchUpload(string uploadId) =>
        new S3Exception(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").With("UploadId", uploadId);

    public static S3Exception NoSuchTagSet(string bucket) =>
        new S3Exception(404, "NoSuchTagSet", "The TagSet does not exist").With("BucketName", bucket);

    public static S3Exception AccessDenied(string message = "Access Denied") => new(403, "AccessDenied", message);

    public static S3Exception MethodNotAllowed(string method, string resourceType) =>
        new S3Exception(405, "MethodNotAllowed", "The specified method is not allowed against this resource.").With("Method", method).With("ResourceType", resourceType);

    public static S3Exception NotImplemented(string? header = null) =>
        new S3Exception(501, "NotImplemented", "A header you provided implies functionality that is not implemented").With("Header", header);

    public static S3Exception EntityTooLarge(long proposed, long max) =>
        new S3Exception(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            .With("ProposedSize", proposed.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("MaxSizeAllowed", max.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static S3Exception EntityTooSmall(long proposed, int partNumber, string etag) =>
        new S3Exception(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
            .With("ProposedSize", proposed.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("MinSizeAllowed", S3Limits.MinPartSize.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("PartNumber", partNumber.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("ETag", etag.Trim('"'));

    public static S3Exception BadDigest(string expectedMd5Base64, string calculatedMd5Base64) =>
        new S3Exception(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")
            .With("ExpectedDigest", expectedMd5Base64).With("CalculatedDigest", calculatedMd5Base64);

    public static S3Exception ChecksumMismatch(string algorithmName) =>
        new(400, "BadDigest", $"The {algorithmName} you specified did not match the calculated checksum.");

    public static S3Exception InvalidDigest(string value) =>
        new S3Exception(400, "InvalidDigest", "The Content-MD5 you specified was invalid.").With("Content-MD5", value);

    public static S3Exception Sha256Mismatch(string client, string computed) =>
        new S3Exception(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
            .With("ClientComputedContentSHA256", client).With("S3ComputedContentSHA256", computed);

    public static S3Exception InvalidArgument(string message, string name, string? value) =>
        new S3Exception(400, "InvalidArgument", message).With("ArgumentName", name).With("ArgumentValue", value);

    public static S3Exception InvalidRequest(string message) => new(400, "InvalidRequest", message);

    public static S3Exception InvalidBucketName(string bucket) =>
        new S3Exception(400, "InvalidBucketName", "The specified bucket is not valid.").With("BucketName", bucket);

    public static S3Exception BucketNotEmpty(string bucket) =>
        new S3Exception(409, "BucketNotEmpty", "The bucket you tried to delete is not empty").With("BucketName", bucket);

    public static S3Exception BucketAlreadyOwnedByYou(string bucket) =>
        new S3Exception(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.").With("BucketName", bucket);

    public static S3Exception MalformedXml() =>
        new(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema");

    public static S3Exception InvalidRange(string requested, long size) =>
        new S3Exception(416, "InvalidRange", "The requested range is not satisfiable")
            .With("RangeRequested", requested).With("ActualObjectSize", size.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static S3Exception InvalidPartNumber(int requested, int count) =>
        new S3Exception(416, "InvalidPartNumber", "The requested partnumber is not satisfiable")
            .With("PartNumberRequested", requested.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("ActualPartCount", count.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static S3Exception PreconditionFailed(string condition) =>
        new S3Exception(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold").With("Condition", condition);

    public static S3Exception KeyTooLong(int size) =>
        new S3Exception(400, "KeyTooLongError", "Your key is too long")
            .With("Size", size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("MaxSizeAllowed", S3Limits.MaxKeyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static S3Exception InvalidPart(int partNumber, string etag, string uploadId) =>
        new S3Exception(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.")
            .With("UploadId", uploadId)
            .With("PartNumber", partNumber.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("ETag", etag);

    public static S3Exception InvalidPartOrder(string uploadId) =>
        new S3Exception(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.").With("UploadId", uploadId);

    public static S3Exception IncompleteBody() =>
        new(400, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header.");

    public static S3Exception InvalidChunk(string detail) =>
        new S3Exception(400, "InvalidRequest", "Invalid chunked upload: " + detail);

    public static S3Exception InvalidTag(string message) => new(400, "InvalidTag", message);

    public static S3Exception MetadataTooLarge(int size) =>
        new S3Exception(400, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
            .With("Size", size.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .With("MaxSizeAllowed", S3Limits.MaxUserMetadataBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public static S3Exception InternalError() =>
        new(500, "InternalError", "We encountered an internal error. Please try again.");
}

internal static class S3Limits
{
    public const long MaxPutSize = 5L * 1024 * 1024 * 1024;
    public const long MinPartSize = 5L * 1024 * 1024;
    public const int MaxKeyBytes = 1024;
    public const int MaxPartNumber = 10_000;
    public const int MaxUserMetadataBytes = 2048;
    public const int MaxDeleteObjects = 1000;
    public const int MaxPresignExpires = 604_800;
}
