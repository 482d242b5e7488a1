using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

using Millrace.Protocol.Auth;

namespace Millrace.S3;

/// <summary>The bytes of a request body as stored: length, MD5 and the flexible checksum, if any.</summary>
internal sealed record IngestResult(long Length, byte[] Md5, ChecksumAlgorithm Algorithm, byte[]? Checksum)
{
    public string ETag => "\"" + Convert.ToHexStringLower(Md5) + "\"";

    public string? ChecksumBase64 => Checksum is null ? null : Convert.ToBase64String(Checksum);
}

/// <summary>
/// Streams a PUT body (plain or aws-chunked) into a store writer through a pooled buffer, computing MD5, the
/// requested flexible checksum and, when the client sent a payload hash, SHA-256; then verifies Content-MD5,
/// x-amz-checksum-* (header or trailer), x-amz-content-sha256 and x-amz-decoded-content-length.
/// </summary>
internal static class BodyIngest
{
    private const int BufferSize = 128 * 1024;

    /// <summary>Lifts Kestrel's body limit for this request and rejects a declared size over S3's limit.</summary>
    public static void PrepareBody(S3Request request, long maxSize)
    {
        var feature = request.Http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = null;
        }

        if (request.Request.ContentLength is null && request.Header("Transfer-Encoding") is null)
        {
            throw new S3Exception(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
        }

        var decoded = request.Header("x-amz-decoded-content-length");
        if (decoded is not null && long.TryParse(decoded, NumberStyles.None, CultureInfo.InvariantCulture, out long d) && d > maxSize)
        {
            throw S3Errors.EntityTooLarge(d, maxSize);
        }

        if (request.Request.ContentLength is { } length && length > maxSize && !IsChunked(request))
        {
            throw S3Errors.EntityTooLarge(length, maxSize);
        }

        if (request.Request.ContentLength is { } chunkedLength && IsChunked(request) && decoded is null && chunkedLength > maxSize + (maxSize / 1024))
        {
            throw S3Errors.EntityTooLarge(chunkedLength, maxSize);
        }
    }

    public static bool IsChunked(S3Request request)
    {
        var sha = request.Header("x-amz-content-sha256");
        if (sha is not null && sha.StartsWith("STREAMING-", StringComparison.Ordinal))
        {
            return true;
        }

        var encoding = request.Header("Content-Encoding");
        return encoding is not null && encoding.Contains("aws-chunked", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The checksum the client asked for: a value header, a trailer, or just the algorithm.</summary>
    public static (ChecksumAlgorithm Algorithm, byte[]? Expected, string? Trailer) RequestedChecksum(S3Request request, ChecksumAlgorithm required)
    {
        ChecksumAlgorithm algorithm = ChecksumAlgorithm.None;
        byte[]? expected = null;
        foreach (var candidate in Checksums.All)
        {
            var header = Checksums.HeaderName(candidate);
            var value = request.Header(header);
            if (value is null)
            {
                continue;
            }

            if (algorithm != ChecksumAlgorithm.None)
            {
                throw S3Errors.InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
            }

            algorithm = candidate;
            expected = Checksums.Decode(candidate, value) ?? throw S3Errors.InvalidRequest($"Value for {header} header is invalid.");
        }

        string? trailer = null;
        var trailerHeader = request.Header("x-amz-trailer");
        if (!string.IsNullOrWhiteSpace(trailerHeader))
        {
            foreach (var name in trailerHeader.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!name.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var trailerAlgorithm = Checksums.Parse(name["x-amz-checksum-".Length..])
                    ?? throw S3Errors.InvalidRequest("The value specified in the x-amz-trailer header is not supported");
                if (algorithm != ChecksumAlgorithm.None && algorithm != trailerAlgorithm)
                {
                    throw S3Errors.InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.");
                }

                algorithm = trailerAlgorithm;
                trailer = name.ToLowerInvariant();
            }
        }

        var sdkAlgorithm = request.Header("x-amz-sdk-checksum-algorithm");
        if (sdkAlgorithm is not null)
        {
            var parsed = Checksums.Parse(sdkAlgorithm)
                ?? throw S3Errors.InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.");
            if (algorithm == ChecksumAlgorithm.None)
            {
                algorithm = parsed;
            }
            else if (algorithm != parsed)
            {
                throw S3Errors.InvalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.");
            }
        }

        if (required != ChecksumAlgorithm.None)
        {
            if (algorithm != ChecksumAlgorithm.None && algorithm != required)
            {
                throw S3Errors.InvalidRequest($"Checksum Type mismatch occurred, expected checksum Type: {Checksums.Name(required).ToLowerInvariant()}, actual checksum Type: {Checksums.Name(algorithm).ToLowerInvariant()}");
            }

            algorithm = required;
        }

        return (algorithm, expected, trailer);
    }

    public static byte[]? ContentMd5(S3Request request)
    {
        var value = request.Header("Content-MD5");
        if (value is null)
        {
            return null;
        }

        var bytes = new byte[16];
        if (!Convert.TryFromBase64String(value.Trim(), bytes, out int written) || written != 16)
        {
            throw S3Errors.InvalidDigest(value);
        }

        return bytes;
    }

    /// <summary>
    /// Copies the request body to <paramref name="destination"/> and verifies it. <paramref name="required"/> is the
    /// algorithm a multipart upload was created with (None otherwise).
    /// </summary>
    public static async Task<IngestResult> IngestAsync(S3Request request, Stream destination, long maxSize, ChecksumAlgorithm required)
    {
        var md5Expected = ContentMd5(request);
        var (algorithm, expected, trailer) = RequestedChecksum(request, required);
        var contentSha = request.Header("x-amz-content-sha256");
        byte[]? shaExpected = null;
        if (contentSha is { Length: 64 } && !contentSha.StartsWith("STREAMING", StringComparison.Ordinal))
        {
            try
            {
                shaExpected = Convert.FromHexString(contentSha);
            }
            catch (FormatException)
            {
                throw S3Errors.InvalidArgument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.", "x-amz-content-sha256", contentSha);
            }
        }

        bool chunked = IsChunked(request);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha = shaExpected is not null ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var checksum = algorithm != ChecksumAlgorithm.None ? Checksums.Create(algorithm) : null;
        AwsChunkedStream? decoder = chunked ? new AwsChunkedStream(request.Request.Body, request.Request.HttpContext.Features.Get<ChunkSignatures>()) : null;
        Stream source = decoder ?? request.Request.Body;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long total = 0;
        try
        {
            while (true)
            {
                // Fill the buffer before writing: the store's file is unbuffered, and the body arrives in small reads.
                int n = 0;
                try
                {
                    int read;
                    while (n < BufferSize && (read = await source.ReadAsync(buffer.AsMemory(n, BufferSize - n), request.Aborted)) > 0)
                    {
                        n += read;
                    }
                }
                catch (BadHttpRequestException)
                {
                    throw S3Errors.IncompleteBody();
                }

                if (n == 0)
                {
                    break;
                }

                total += n;
                if (total > maxSize)
                {
                    throw S3Errors.EntityTooLarge(total, maxSize);
                }

                var span = buffer.AsSpan(0, n);
                md5.AppendData(span);
                sha?.AppendData(span);
                checksum?.Append(span);
                await destination.WriteAsync(buffer.AsMemory(0, n), request.Aborted);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            decoder?.Dispose();
        }

        if (chunked)
        {
            var decodedHeader = request.Header("x-amz-decoded-content-length");
            if (decodedHeader is not null && long.TryParse(decodedHeader, NumberStyles.None, CultureInfo.InvariantCulture, out long declared) && declared != total)
            {
                throw S3Errors.IncompleteBody();
            }

            if (trailer is not null && decoder!.Trailers.TryGetValue(trailer, out var trailerValue))
            {
                expected = Checksums.Decode(algorithm, trailerValue) ?? throw S3Errors.InvalidRequest($"Value for {trailer} trailing header is invalid.");
            }
        }

        var digest = md5.GetHashAndReset();
        if (md5Expected is not null && !md5Expected.AsSpan().SequenceEqual(digest))
        {
            throw S3Errors.BadDigest(Convert.ToBase64String(md5Expected), Convert.ToBase64String(digest));
        }

        byte[]? value = checksum?.GetHashAndReset();
        if (expected is not null && !expected.AsSpan().SequenceEqual(value))
        {
            throw S3Errors.ChecksumMismatch(Checksums.Name(algorithm));
        }

        if (sha is not null)
        {
            var computed = sha.GetHashAndReset();
            if (!computed.AsSpan().SequenceEqual(shaExpected))
            {
                throw S3Errors.Sha256Mismatch(contentSha!, Convert.ToHexStringLower(computed));
            }
        }

        return new IngestResult(total, digest, algorithm, value);
    }

    /// <summary>Copies a range of a stored object into a writer, computing MD5 and a checksum.</summary>
    public static async Task<IngestResult> CopyAsync(Stream source, Stream destination, ChecksumAlgorithm algorithm, CancellationToken ct, long maxSize = long.MaxValue)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var checksum = algorithm != ChecksumAlgorithm.None ? Checksums.Create(algorithm) : null;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long total = 0;
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer.AsMemory(0, BufferSize), ct)) > 0)
            {
                total += n;
                if (total > maxSize)
                {
                    throw S3Errors.EntityTooLarge(total, maxSize);
                }

                md5.AppendData(buffer, 0, n);
                checksum?.Append(buffer.AsSpan(0, n));
                await destination.WriteAsync(buffer.AsMemory(0, n), ct);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return new IngestResult(total, md5.GetHashAndReset(), algorithm, checksum?.GetHashAndReset());
    }

    /// <summary>Reads a small XML body (configuration documents, part lists) into memory, bounded.</summary>
    public static async Task<byte[]> ReadSmallBodyAsync(S3Request request, int max = 2 * 1024 * 1024)
    {
        using var ms = new MemoryStream();
        Stream source = IsChunked(request) ? new AwsChunkedStream(request.Request.Body, request.Request.HttpContext.Features.Get<ChunkSignatures>()) : request.Request.Body;
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer, request.Aborted)) > 0)
            {
                if (ms.Length + n > max)
                {
                    throw S3Errors.MalformedXml();
                }

                ms.Write(buffer, 0, n);
            }
        }
        catch (BadHttpRequestException)
        {
            throw S3Errors.IncompleteBody();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!ReferenceEquals(source, request.Request.Body))
            {
                await source.DisposeAsync();
            }
        }

        var body = ms.ToArray();
        foreach (var algorithm in Checksums.All)
        {
            var header = request.Header(Checksums.HeaderName(algorithm));
            if (header is null)
            {
                continue;
            }

            var expected = Checksums.Decode(algorithm, header) ?? throw S3Errors.InvalidRequest($"Value for {Checksums.HeaderName(algorithm)} header is invalid.");
            if (!expected.AsSpan().SequenceEqual(Checksums.Compute(algorithm, body)))
            {
                throw S3Errors.ChecksumMismatch(Checksums.Name(algorithm));
            }
        }

        var md5 = ContentMd5(request);
        if (md5 is not null)
        {
            var digest = MD5.HashData(body);
            if (!digest.AsSpan().SequenceEqual(md5))
            {
                throw S3Errors.BadDigest(Convert.ToBase64String(md5), Convert.ToBase64String(digest));
            }
        }

        return body;
    }
}
