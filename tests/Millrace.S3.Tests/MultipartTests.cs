using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.S3.Tests;

public sealed class MultipartTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private S3TestServer _s3 = null!;

    public async Task InitializeAsync()
    {
        _s3 = await S3TestServer.StartAsync();
        await _s3.CreateBucketAsync("mpu");
    }

    public async Task DisposeAsync() => await _s3.DisposeAsync();

    private async Task<string> CreateAsync(string key, params (string, string)[] headers)
    {
        using var response = await _s3.SendAsync(HttpMethod.Post, $"/mpu/{key}?uploads", null, headers);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var xml = await Xml.ReadAsync(response);
        Assert.Equal("mpu", xml.Value("Bucket"));
        Assert.Equal(key, xml.Value("Key"));
        return xml.Value("UploadId")!;
    }

    private async Task<string> UploadPartAsync(string key, string uploadId, int part, byte[] data, params (string, string)[] headers)
    {
        using var response = await _s3.PutAsync($"/mpu/{key}?partNumber={part}&uploadId={Uri.EscapeDataString(uploadId)}", data, headers);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var etag = response.Headers.ETag!.Tag;
        Assert.Equal("\"" + Convert.ToHexStringLower(MD5.HashData(data)) + "\"", etag);
        return etag;
    }

    private static string CompleteXml(params (int Part, string ETag)[] parts) =>
        "<CompleteMultipartUpload>" + string.Concat(parts.Select(p => $"<Part><PartNumber>{p.Part}</PartNumber><ETag>{p.ETag}</ETag></Part>")) + "</CompleteMultipartUpload>";

    [Fact]
    public async Task Upload_complete_and_read_back()
    {
        var id = await CreateAsync("big", ("Content-Type", "application/x-big"), ("x-amz-meta-m", "v"));
        var p1 = RandomNumberGenerator.GetBytes(5 * MiB);
        var p2 = RandomNumberGenerator.GetBytes(1000);
        var e1 = await UploadPartAsync("big", id, 1, p1);
        var e2 = await UploadPartAsync("big", id, 2, p2);

        using var parts = await _s3.GetAsync($"/mpu/big?uploadId={id}");
        var listed = await Xml.ReadAsync(parts);
        Assert.Equal(["1", "2"], listed.All("Part").Select(p => p.Value("PartNumber")).ToList());
        Assert.Equal("1000", listed.All("Part").Last().Value("Size"));
        using var page = await _s3.GetAsync($"/mpu/big?uploadId={id}&max-parts=1");
        var first = await Xml.ReadAsync(page);
        Assert.Equal("true", first.Value("IsTruncated"));
        Assert.Equal("1", first.Value("NextPartNumberMarker"));
        using var page2 = await _s3.GetAsync($"/mpu/big?uploadId={id}&max-parts=1&part-number-marker=1");
        Assert.Equal("2", (await Xml.ReadAsync(page2)).All("Part").Single().Value("PartNumber"));

        using var uploads = await _s3.GetAsync("/mpu?uploads");
        var uploadList = await Xml.ReadAsync(uploads);
        Assert.Contains(uploadList.All("Upload"), u => u.Value("UploadId") == id && u.Value("Key") == "big");

        using var complete = await _s3.SendAsync(HttpMethod.Post, $"/mpu/big?uploadId={id}", new StringContent(CompleteXml((1, e1), (2, e2.Trim('"')))));
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        var result = await Xml.ReadAsync(complete);
        var md5s = MD5.HashData(p1).Concat(MD5.HashData(p2)).ToArray();
        var expected = "\"" + Convert.ToHexStringLower(MD5.HashData(md5s)) + "-2\"";
        Assert.Equal(expected, result.Value("ETag"));
        Assert.Equal("mpu", result.Value("Bucket"));
        Assert.Equal("big", result.Value("Key"));
        Assert.EndsWith("/mpu/big", result.Value("Location"), StringComparison.Ordinal);

        using var get = await _s3.GetAsync("/mpu/big");
        Assert.Equal(p1.Concat(p2).ToArray(), await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(expected, get.Headers.ETag!.Tag);
        Assert.Equal("application/x-big", get.Content.Headers.ContentType!.ToString());
        Assert.Equal("v", get.Headers.GetValues("x-amz-meta-m").Single());

        using var part2 = await _s3.GetAsync("/mpu/big?partNumber=2");
        Assert.Equal(HttpStatusCode.PartialContent, part2.StatusCode);
        Assert.Equal(p2, await part2.Content.ReadAsByteArrayAsync());
        Assert.Equal("2", part2.Headers.GetValues("x-amz-mp-parts-count").Single());
        Assert.Equal($"bytes {5 * MiB}-{(5 * MiB) + 999}/{(5 * MiB) + 1000}", part2.Content.Headers.ContentRange!.ToString());

        using var head = await _s3.SendAsync(HttpMethod.Head, "/mpu/big", null, ("x-amz-checksum-mode", "ENABLED"));
        var full = Checksums.Compute(ChecksumAlgorithm.Crc64Nvme, p1.Concat(p2).ToArray());
        Assert.Equal(Convert.ToBase64String(full), head.Headers.GetValues("x-amz-checksum-crc64nvme").Single());

        using var gone = await _s3.GetAsync($"/mpu/big?uploadId={id}");
        Assert.Equal("NoSuchUpload", (await Xml.ErrorAsync(gone)).Code);
        Assert.Contains(_s3.Sink.Events, e => e.EventName == "ObjectCreated:CompleteMultipartUpload" && e.Key == "big");
    }

    [Fact]
    public async Task Composite_crc32_checksum()
    {
        var id = await CreateAsync("sum", ("x-amz-checksum-algorithm", "CRC32"));
        var p1 = RandomNumberGenerator.GetBytes(5 * MiB);
        var p2 = Encoding.ASCII.GetBytes("tail");
        var c1 = Checksums.Compute(ChecksumAlgorithm.Crc32, p1);
        var c2 = Checksums.Compute(ChecksumAlgorithm.Crc32, p2);
        var e1 = await UploadPartAsync("sum", id, 1, p1, ("x-amz-checksum-crc32", Convert.ToBase64String(c1)));
        var e2 = await UploadPartAsync("sum", id, 2, p2);
        using var bad = await _s3.PutAsync($"/mpu/sum?partNumber=3&uploadId={id}", p2, ("x-amz-checksum-crc32", Convert.ToBase64String(c1)));
        Assert.Equal("BadDigest", (await Xml.ErrorAsync(bad)).Code);

        using var complete = await _s3.SendAsync(HttpMethod.Post, $"/mpu/sum?uploadId={id}", new StringContent(CompleteXml((1, e1), (2, e2))));
        var result = await Xml.ReadAsync(complete);
        var composite = Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, c1.Concat(c2).ToArray())) + "-2";
        Assert.Equal(composite, result.Value("ChecksumCRC32"));
        Assert.Equal("COMPOSITE", result.Value("ChecksumType"));
        using var head = await _s3.SendAsync(HttpMethod.Head, "/mpu/sum", null, ("x-amz-checksum-mode", "ENABLED"));
        Assert.Equal(composite, head.Headers.GetValues("x-amz-checksum-crc32").Single());
    }

    [Fact]
    public async Task Full_object_crc32c_checksum()
    {
        var id = await CreateAsync("full", ("x-amz-checksum-algorithm", "CRC32C"), ("x-amz-checksum-type", "FULL_OBJECT"));
        var p1 = RandomNumberGenerator.GetBytes(5 * MiB);
        var p2 = RandomNumberGenerator.GetBytes(777);
        var e1 = await UploadPartAsync("full", id, 1, p1);
        var e2 = await UploadPartAsync("full", id, 2, p2);
        using var complete = await _s3.SendAsync(HttpMethod.Post, $"/mpu/full?uploadId={id}", new StringContent(CompleteXml((1, e1), (2, e2))));
        var result = await Xml.ReadAsync(complete);
        Assert.Equal(Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32C, p1.Concat(p2).ToArray())), result.Value("ChecksumCRC32C"));
        Assert.Equal("FULL_OBJECT", result.Value("ChecksumType"));
    }

    [Fact]
    public async Task Complete_errors()
    {
        var id = await CreateAsync("err");
        var small = RandomNumberGenerator.GetBytes(100);
        var e1 = await UploadPartAsync("err", id, 1, small);
        var e2 = await UploadPartAsync("err", id, 2, small);

        async Task<(string Code, System.Xml.Linq.XElement Error)> Complete(string xml)
        {
            using var response = await _s3.SendAsync(HttpMethod.Post, $"/mpu/err?uploadId={id}", new StringContent(xml));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return await Xml.ErrorAsync(response);
        }

        var (code, error) = await Complete(CompleteXml((1, e1), (2, e2)));
        Assert.Equal("EntityTooSmall", code);
        Assert.Equal("Your proposed upload is smaller than the minimum allowed size", error.Element("Message")!.Value);

        (code, error) = await Complete(CompleteXml((2, e2), (1, e1)));
        Assert.Equal("InvalidPartOrder", code);
        Assert.Equal("The list of parts was not in ascending order. Parts must be ordered by part number.", error.Element("Message")!.Value);

        (code, error) = await Complete(CompleteXml((1, "\"00000000000000000000000000000000\"")));
        Assert.Equal("InvalidPart", code);
        Assert.Equal("One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.", error.Element("Message")!.Value);

        (code, _) = await Complete(CompleteXml((3, e1)));
        Assert.Equal("InvalidPart", code);
        (code, _) = await Complete("<CompleteMultipartUpload></CompleteMultipartUpload>");
        Assert.Equal("MalformedXML", code);
        (code, _) = await Complete("<CompleteMultipartUpload><Part>");
        Assert.Equal("MalformedXML", code);

        // A single small part is fine (the last part may be small).
        using var ok = await _s3.SendAsync(HttpMethod.Post, $"/mpu/err?uploadId={id}", new StringContent(CompleteXml((2, e2))));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var get = await _s3.GetAsync("/mpu/err");
        Assert.Equal(small, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Part_numbers_abort_and_no_such_upload()
    {
        var id = await CreateAsync("abort");
        foreach (var bad in new[] { "0", "10001", "x", "-1" })
        {
            using var response = await _s3.PutAsync($"/mpu/abort?partNumber={bad}&uploadId={id}", "x");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var (code, error) = await Xml.ErrorAsync(response);
            Assert.Equal("InvalidArgument", code);
            Assert.Equal("Part number must be an integer between 1 and 10000, inclusive", error.Element("Message")!.Value);
        }

        using var abort = await _s3.SendAsync(HttpMethod.Delete, $"/mpu/abort?uploadId={id}");
        Assert.Equal(HttpStatusCode.NoContent, abort.StatusCode);
        using var again = await _s3.SendAsync(HttpMethod.Delete, $"/mpu/abort?uploadId={id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        var (noCode, noError) = await Xml.ErrorAsync(again);
        Assert.Equal("NoSuchUpload", noCode);
        Assert.Equal("The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", noError.Element("Message")!.Value);

        using var part = await _s3.PutAsync("/mpu/abort?partNumber=1&uploadId=bogus", "x");
        Assert.Equal("NoSuchUpload", (await Xml.ErrorAsync(part)).Code);
    }

    [Fact]
    public async Task Upload_part_copy_with_range()
    {
        var source = RandomNumberGenerator.GetBytes(6 * MiB);
        (await _s3.PutAsync("/mpu/source", source)).Dispose();
        var id = await CreateAsync("copied");
        using var copy1 = await _s3.SendAsync(HttpMethod.Put, $"/mpu/copied?partNumber=1&uploadId={id}", null,
            ("x-amz-copy-source", "/mpu/source"), ("x-amz-copy-source-range", $"bytes=0-{(5 * MiB) - 1}"));
        Assert.Equal(HttpStatusCode.OK, copy1.StatusCode);
        var r1 = await Xml.ReadAsync(copy1);
        Assert.Equal("CopyPartResult", r1.Name.LocalName);
        using var copy2 = await _s3.SendAsync(HttpMethod.Put, $"/mpu/copied?partNumber=2&uploadId={id}", null,
            ("x-amz-copy-source", "mpu/source"), ("x-amz-copy-source-range", $"bytes={5 * MiB}-{(6 * MiB) - 1}"));
        var r2 = await Xml.ReadAsync(copy2);
        using var badRange = await _s3.SendAsync(HttpMethod.Put, $"/mpu/copied?partNumber=3&uploadId={id}", null,
            ("x-amz-copy-source", "/mpu/source"), ("x-amz-copy-source-range", $"bytes=0-{6 * MiB}"));
        Assert.Equal("InvalidArgument", (await Xml.ErrorAsync(badRange)).Code);

        using var complete = await _s3.SendAsync(HttpMethod.Post, $"/mpu/copied?uploadId={id}", new StringContent(CompleteXml((1, r1.Value("ETag")!), (2, r2.Value("ETag")!))));
        Assert.True(complete.StatusCode == HttpStatusCode.OK, await complete.Content.ReadAsStringAsync());
        using var get = await _s3.GetAsync("/mpu/copied");
        Assert.Equal(source, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Aws_chunked_part_upload()
    {
        var id = await CreateAsync("chunkedpart", ("x-amz-checksum-algorithm", "CRC32C"));
        var data = RandomNumberGenerator.GetBytes(100_000);
        var crc = Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32C, data));
        using var response = await _s3.PutAsync($"/mpu/chunkedpart?partNumber=1&uploadId={id}", ObjectTests.ChunkedBody(data, 16384, signed: true, trailer: "x-amz-checksum-crc32c:" + crc),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), ("Content-Encoding", "aws-chunked"), ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("x-amz-decoded-content-length", data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(crc, response.Headers.GetValues("x-amz-checksum-crc32c").Single());
        using var parts = await _s3.GetAsync($"/mpu/chunkedpart?uploadId={id}");
        Assert.Equal(crc, (await Xml.ReadAsync(parts)).All("Part").Single().Value("ChecksumCRC32C"));
    }
}
