using System.Text.Json;
using System.Text.Json.Serialization;

namespace Millrace.S3;

/// <summary>
/// What S3 keeps beside an object's bytes (the store's opaque metadata): the representation headers, the
/// x-amz-meta-* pairs, tags, the checksum and, for a multipart object, its part sizes. Encoded as compact JSON.
/// Also used for a multipart upload (the headers given at CreateMultipartUpload) and for a part (its checksum).
/// </summary>
internal sealed class ObjectMetadata
{
    public string? ContentType { get; set; }

    public string? ContentEncoding { get; set; }

    public string? CacheControl { get; set; }

    public string? ContentDisposition { get; set; }

    public string? ContentLanguage { get; set; }

    public string? Expires { get; set; }

    public string? StorageClass { get; set; }

    public string? WebsiteRedirectLocation { get; set; }

    /// <summary>x-amz-meta-* pairs, names lower case without the prefix, in the order given.</summary>
    public List<KeyValuePair<string, string>>? User { get; set; }

    public List<KeyValuePair<string, string>>? Tags { get; set; }

    /// <summary>CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.</summary>
    public string? ChecksumAlgorithm { get; set; }

    /// <summary>The base64 value as S3 returns it (composite values end in -N).</summary>
    public string? ChecksumValue { get; set; }

    /// <summary>FULL_OBJECT or COMPOSITE.</summary>
    public string? ChecksumType { get; set; }

    /// <summary>The sizes of a multipart object's parts, in order (GetObject partNumber=N).</summary>
    public long[]? PartSizes { get; set; }

    /// <summary>The checksums of a multipart object's parts (base64), in order, when it has a checksum algorithm.</summary>
    public string[]? PartChecksums { get; set; }

    /// <summary>
    /// A multipart upload created without a checksum algorithm: parts get S3's default CRC64NVME (full object) but
    /// a part may carry another checksum the client chose.
    /// </summary>
    public bool? DefaultChecksum { get; set; }

    public ChecksumAlgorithm Algorithm => Checksums.Parse(ChecksumAlgorithm) ?? S3.ChecksumAlgorithm.None;

    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(this, S3JsonContext.Default.ObjectMetadata);

    public static ObjectMetadata Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return new ObjectMetadata();
        }

        try
        {
            return JsonSerializer.Deserialize(bytes, S3JsonContext.Default.ObjectMetadata) ?? new ObjectMetadata();
        }
        catch (JsonException)
        {
            return new ObjectMetadata();
        }
    }

    public ObjectMetadata Clone() => Decode(Encode());
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ObjectMetadata))]
[JsonSerializable(typeof(List<KeyValuePair<string, string>>))]
internal sealed partial class S3JsonContext : JsonSerializerContext
{
}
