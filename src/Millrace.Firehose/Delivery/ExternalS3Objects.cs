using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Millrace.Gateway;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// Firehose's S3 writes to an S3-compatible endpoint other than Millrace's own (Amazon S3, MinIO), through AWSSDK.S3:
/// path-style addressing, SigV4 with the credentials of the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
/// else test/test for local endpoints).
/// </summary>
public sealed class ExternalS3Objects : IBucketObjects, IDisposable
{
    private readonly AmazonS3Client _client;

    public ExternalS3Objects(Uri endpoint, string region = "us-east-1")
    {
        var id = Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "test";
        var secret = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "test";
        _client = new AmazonS3Client(new BasicAWSCredentials(id, secret), new AmazonS3Config
        {
            ServiceURL = endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });
    }

    public async ValueTask<byte[]?> ReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await _client.GetObjectAsync(bucket, key, cancellationToken);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "NoSuchKey" or "NoSuchBucket")
        {
            return null;
        }
    }

    public async ValueTask<bool> WriteAsync(string bucket, string key, ReadOnlyMemory<byte> body, string contentType, CancellationToken cancellationToken = default)
    {
        try
        {
            using var stream = new MemoryStream(body.ToArray(), writable: false);
            await _client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = stream, ContentType = contentType }, cancellationToken);
            return true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "NoSuchBucket")
        {
            return false;
        }
    }

    public void Dispose() => _client.Dispose();
}
