using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Gateway;
using Millrace.Gateway.Authentication;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>The S3 REST API (rest-xml, path-style and virtual-hosted-style) over an <see cref="IObjectStore"/>.</summary>
public sealed partial class S3Service(IObjectStore store, S3Options options) : IAwsService, IBucketNotificationSource
{
    private readonly string _ownerId = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("millrace:" + options.AccountId)));

    public string Name => "s3";

    public ServiceRoutes Routes { get; } = new() { ObjectStorage = true, AuthErrors = AuthErrorStyle.S3 };

    public IObjectStore Store => store;

    public S3Options Options => options;

    private TimeProvider Clock => options.Clock;

    private IObjectEventSink Events => options.Events ?? NoObjectEvents.Instance;

    /// <summary>The canonical user id shown as Owner/ID.</summary>
    public string OwnerId => _ownerId;

    /// <inheritdoc/>
    public Task WriteErrorAsync(HttpContext http, ServiceException error)
    {
        var requestId = GatewayEndpoint.NewRequestId();
        http.Response.Headers["x-amz-request-id"] = requestId;
        http.Response.Headers["x-amz-id-2"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var s3Error = new S3Exception(error.Status ?? 403, error.Code, error.ErrorMessage ?? error.Code);
        foreach (var (name, value) in error.Fields ?? [])
        {
            s3Error.With(name, value?.ToString());
        }

        return WriteErrorAsync(http, null, requestId, s3Error);
    }

    public async Task HandleAsync(HttpContext http)
    {
        var requestId = GatewayEndpoint.NewRequestId();
        http.Response.Headers["x-amz-request-id"] = requestId;
        http.Response.Headers["x-amz-id-2"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        http.Response.Headers.Server = "AmazonS3";
        S3Request? request = null;
        try
        {
            request = S3Request.Parse(http, requestId);
            CheckAuthentication(request);
            await DispatchAsync(request);
        }
        catch (S3Exception e)
        {
            await WriteErrorAsync(http, request, requestId, e);
        }
        catch (ContentHashMismatchException e)
        {
            await WriteErrorAsync(http, request, requestId, new S3Exception(400, "XAmzContentSHA256Mismatch", e.Message)
                .With("ClientComputedContentSHA256", e.Claimed).With("S3ComputedContentSHA256", e.Computed));
        }
        catch (ChunkSignatureMismatchException e)
        {
            await WriteErrorAsync(http, request, requestId, new S3Exception(403, "SignatureDoesNotMatch", e.Message));
        }
        catch (NoSuchBucketException e)
        {
            await WriteErrorAsync(http, request, requestId, S3Errors.NoSuchBucket(e.Bucket));
        }
        catch (NoSuchUploadException e)
        {
            await WriteErrorAsync(http, request, requestId, S3Errors.NoSuchUpload(e.UploadId));
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing was committed.
        }
        catch (BadHttpRequestException)
        {
            await WriteErrorAsync(http, request, requestId, S3Errors.IncompleteBody());
        }
        catch (Exception e)
        {
            var logger = http.RequestServices?.GetService<ILoggerFactory>()?.CreateLogger<S3Service>();
            logger?.LogError(e, "S3 {Method} {Path} failed (request {RequestId})", http.Request.Method, http.Request.Path, requestId);
            await WriteErrorAsync(http, request, requestId, S3Errors.InternalError());
        }
    }

    /// <inheritdoc />
    public async ValueTask<string?> GetNotificationConfigurationAsync(string bucket, CancellationToken ct = default)
    {
        try
        {
            var bytes = await store.GetBucketConfigAsync(bucket, BucketConfigNotification, ct);
            return bytes is null ? null : Encoding.UTF8.GetString(bytes);
        }
        catch (NoSuchBucketException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes an object in process (other services' deliveries, e.g. Lambda's on-failure records), as a PutObject
    /// would: fsynced before it returns, with S3's default CRC64NVME checksum. False when the bucket does not exist.
    /// </summary>
    public async ValueTask<bool> PutObjectAsync(string bucket, string key, ReadOnlyMemory<byte> body, string contentType, CancellationToken ct = default)
    {
        if (await store.GetBucketAsync(bucket, ct) is null)
        {
            return false;
        }

        await using var writer = await store.BeginObjectAsync(bucket, ct);
        IngestResult result;
        using (var source = new MemoryStream(body.ToArray(), writable: false))
        {
            result = await BodyIngest.CopyAsync(source, writer.Content, ChecksumAlgorithm.Crc64Nvme, ct);
        }

        await writer.Content.FlushAsync(ct);
        var meta = new ObjectMetadata
        {
            ContentType = contentType,
            ChecksumAlgorithm = Checksums.Name(ChecksumAlgorithm.Crc64Nvme),
            ChecksumValue = result.ChecksumBase64,
            ChecksumType = "FULL_OBJECT",
        };
        await writer.CommitAsync(key, meta.Encode(), result.ETag, options.Clock.GetUtcNow(), false, ct);
        return true;
    }

    private static async Task WriteErrorAsync(HttpContext http, S3Request? request, string requestId, S3Exception error)
    {
        var response = http.Response;
        if (response.HasStarted)
        {
            http.Abort();
            return;
        }

        var id2 = response.Headers["x-amz-id-2"].ToString();
        response.Clear();
        response.Headers["x-amz-request-id"] = requestId;
        response.Headers["x-amz-id-2"] = id2;
        response.Headers.Server = "AmazonS3";
        foreach (var (name, value) in error.Headers)
        {
            response.Headers[name] = value;
        }

        response.StatusCode = error.Status;
        if (HttpMethods.IsHead(http.Request.Method) || error.Status == 304)
        {
            return;
        }

        var xml = new S3Xml().Open("Error").Element("Code", error.Code).Element("Message", error.Message);
        foreach (var (name, value) in error.Fields)
        {
            xml.Element(name, value);
        }

        if (request?.Bucket is not null && error.Fields.All(f => f.Key != "Resource") && error.Code is "AccessDenied" or "MethodNotAllowed" or "InvalidRequest")
        {
            xml.Element("Resource", request.Resource);
        }

        xml.Element("RequestId", requestId).Element("HostId", id2);
        var body = xml.ToBytes();
        response.ContentType = "application/xml";
        response.ContentLength = body.Length;
        try
        {
            await response.Body.WriteAsync(body, http.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// Signatures are verified by the front door with --auth sigv4 (unsigned requests pass with --auth none). A presigned URL is checked for its
    /// parameters and its expiry (X-Amz-Date + X-Amz-Expires, by the service clock).
    /// </summary>
    private void CheckAuthentication(S3Request request)
    {
        if (request.Has("AWSAccessKeyId") && request.Has("Signature") && request.QueryValue("Expires") is { Length: > 0 } epoch)
        {
            CheckLegacyExpiry(epoch);
            return;
        }

        if (!request.Has("X-Amz-Algorithm") && !request.Has("X-Amz-Credential") && !request.Has("X-Amz-Signature"))
        {
            return;
        }

        if (request.Header("Authorization") is { Length: > 0 })
        {
            throw S3Errors.InvalidArgument("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified", "Authorization", request.Header("Authorization"));
        }

        string[] required = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires"];
        if (required.Any(name => string.IsNullOrEmpty(request.QueryValue(name))))
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError",
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
        }

        if (request.QueryValue("X-Amz-Algorithm") != "AWS4-HMAC-SHA256")
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256\"");
        }

        var expiresText = request.QueryValue("X-Amz-Expires")!;
        if (!long.TryParse(expiresText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long expires))
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError", "X-Amz-Expires should be a number");
        }

        if (expires < 0)
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative");
        }

        if (expires > S3Limits.MaxPresignExpires)
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds) that is 604800");
        }

        if (!DateTimeOffset.TryParseExact(request.QueryValue("X-Amz-Date"), "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var signedAt))
        {
            throw new S3Exception(400, "AuthorizationQueryParametersError", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
        }

        var now = Clock.GetUtcNow();
        var expiresAt = signedAt.AddSeconds(expires);
        if (now > expiresAt)
        {
            throw S3Errors.AccessDenied("Request has expired")
                .With("X-Amz-Expires", expiresText)
                .With("Expires", expiresAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))
                .With("ServerTime", now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }

        if (signedAt > now.AddMinutes(15))
        {
            throw S3Errors.AccessDenied("Request is not valid yet");
        }
    }

    /// <summary>A SigV2 query-string URL (AWSAccessKeyId, Signature, Expires in epoch seconds), as boto3 presigns for custom endpoints.</summary>
    private void CheckLegacyExpiry(string epoch)
    {
        if (!long.TryParse(epoch, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            throw S3Errors.AccessDenied("Invalid date (should be seconds since epoch): " + epoch);
        }

        var now = Clock.GetUtcNow();
        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(Math.Min(seconds, 253402300799));
        if (now > expiresAt)
        {
            throw S3Errors.AccessDenied("Request has expired")
                .With("Expires", expiresAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))
                .With("ServerTime", now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The bare hex of an ETag without its quotes.</summary>
    internal static string Unquote(string etag) => etag.Length >= 2 && etag[0] == '"' && etag[^1] == '"' ? etag[1..^1] : etag;

    internal static string Quote(string etag) => etag.Length >= 2 && etag[0] == '"' && etag[^1] == '"' ? etag : "\"" + etag + "\"";

    private static async Task WriteXmlAsync(S3Request request, S3Xml xml, int status = 200)
    {
        var body = xml.ToBytes();
        var response = request.Response;
        response.StatusCode = status;
        response.ContentType = "application/xml";
        response.ContentLength = body.Length;
        if (!request.IsHead)
        {
            await response.Body.WriteAsync(body, request.Aborted);
        }
    }

    private static void NoContent(S3Request request, int status = 204)
    {
        request.Response.StatusCode = status;
        if (status != 204)
        {
            request.Response.ContentLength = 0;
        }
    }

    private S3Xml Owner(S3Xml xml, string element = "Owner") =>
        xml.Open(element).Element("ID", _ownerId).Element("DisplayName", "millrace").Close();

    private async ValueTask<BucketRecord> RequireBucketAsync(string bucket, CancellationToken ct) =>
        await store.GetBucketAsync(bucket, ct) ?? throw S3Errors.NoSuchBucket(bucket);

    private ValueTask EmitAsync(S3Request request, string eventName, string key, long size, string? etag) =>
        Events.OnObjectEventAsync(new ObjectEvent(eventName, request.Bucket!, key, size, etag is null ? null : Unquote(etag), Clock.GetUtcNow(), request.RequestId), CancellationToken.None);
}

public sealed class S3Options
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Told of every committed object change (S3 event notifications); null for none.</summary>
    public IObjectEventSink? Events { get; init; }
}
