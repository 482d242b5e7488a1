namespace Millrace.Server.Tests.S3;

/// <summary>
/// The AWS SDK for JavaScript v3 (@aws-sdk/client-s3, tests/clients/js/s3-sdk.mjs) with its default checksums:
/// PutObject with a string, a Buffer and a Readable stream (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER with a
/// CRC32 trailer), GetObject with checksum mode, multipart, ListObjectsV2 paging, DeleteObjects; bytes and ETags checked.
/// </summary>
public sealed class JsSdkS3Tests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    [Fact]
    public async Task ClientS3WithDefaultChecksums()
    {
        var dir = S3TestSupport.ClientPath("js");
        S3TestSupport.ClientPath("js", "node_modules", "@aws-sdk", "client-s3");
        var result = await ExternalTool.RunAsync("node", ["s3-sdk.mjs", Server.Endpoint, S3TestSupport.UniqueBucket("js")], workingDirectory: dir, timeout: TimeSpan.FromSeconds(90));
        S3TestSupport.RequireSuccess(Server, result, "node s3-sdk.mjs");
        var summary = S3TestSupport.Summary(Server, result, "s3-sdk.mjs");
        var context = S3TestSupport.Describe(Server, result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("checks").GetInt32() == 6, context);
        var wire = summary.GetProperty("stream_wire");
        Assert.True(wire.GetProperty("encoding").GetString() == "aws-chunked", context);
        Assert.True(wire.GetProperty("sha").GetString() == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", context);
        Assert.True(wire.GetProperty("trailer").GetString() == "x-amz-checksum-crc32", context);
        foreach (var name in new[] { "string_crc32", "buffer_crc32", "stream_crc32" })
        {
            Assert.True(summary.GetProperty(name).GetString() is { Length: 8 }, $"{name} missing from PutObject's response\n{context}");
        }
    }
}
