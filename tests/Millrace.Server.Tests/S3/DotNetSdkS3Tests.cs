using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;

namespace Millrace.Server.Tests.S3;

/// <summary>
/// AWSSDK.S3 for .NET (4.1.0.1) with ServiceURL = the Millrace endpoint and ForcePathStyle: PutObject, GetObject,
/// ListObjectsV2, a 20 MB stream through TransferUtility (multipart), DeleteObject.
/// </summary>
public sealed class DotNetSdkS3Tests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private AmazonS3Client NewClient() => new(
        new BasicAWSCredentials("AKIDMILLRACETEST", "millrace-test-secret"),
        new AmazonS3Config { ServiceURL = fixture.Server.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 1 });

    [Fact]
    public async Task PutGetListTransferUtilityDelete()
    {
        using var s3 = NewClient();
        var bucket = S3TestSupport.UniqueBucket("net");
        await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket });

        var small = RandomNumberGenerator.GetBytes(123_456);
        var put = await s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = "small/one.bin", InputStream = new MemoryStream(small), ContentType = "application/x-net" });
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(small))}\"", put.ETag);
        using (var got = await s3.GetObjectAsync(bucket, "small/one.bin"))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy);
            Assert.Equal(small, copy.ToArray());
            Assert.Equal("application/x-net", got.Headers.ContentType);
            Assert.Equal(put.ETag, got.ETag);
        }

        var big = new byte[20 * 1024 * 1024];
        new Random(20).NextBytes(big);
        using (var transfer = new TransferUtility(s3))
        {
            await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = "big/twenty.bin", InputStream = new MemoryStream(big), PartSize = 5 * 1024 * 1024 });
        }

        var meta = await s3.GetObjectMetadataAsync(bucket, "big/twenty.bin");
        Assert.Equal(big.Length, meta.ContentLength);
        Assert.EndsWith("-4\"", meta.ETag);
        using (var got = await s3.GetObjectAsync(bucket, "big/twenty.bin"))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy);
            Assert.Equal(S3TestSupport.Sha256(big), S3TestSupport.Sha256(copy.ToArray()));
        }

        var listed = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Delimiter = "/" });
        Assert.Equal(["big/", "small/"], listed.CommonPrefixes);
        var all = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, MaxKeys = 1 });
        Assert.True(all.IsTruncated == true);
        Assert.Equal("big/twenty.bin", Assert.Single(all.S3Objects).Key);
        var rest = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = all.NextContinuationToken });
        Assert.Equal("small/one.bin", Assert.Single(rest.S3Objects).Key);

        await s3.DeleteObjectAsync(bucket, "small/one.bin");
        await s3.DeleteObjectAsync(bucket, "big/twenty.bin");
        // The SDK maps the code to its subclass NoSuchKeyException.
        var missing = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => s3.GetObjectAsync(bucket, "small/one.bin"));
        Assert.Equal("NoSuchKey", missing.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
        await s3.DeleteBucketAsync(bucket);
    }
}
