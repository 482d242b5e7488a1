using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.S3.Tests;

public sealed class ObjectTests : IAsyncLifetime
{
    private S3TestServer _s3 = null!;

    public async Task InitializeAsync()
    {
        _s3 = await S3TestServer.StartAsync();
        await _s3.CreateBucketAsync("objects");
    }

    public async Task DisposeAsync() => await _s3.DisposeAsync();

    [Fact]
    public async Task Put_then_get_round_trips_bytes_headers_and_metadata()
    {
        var body = RandomNumberGenerator.GetBytes(100_000);
        var md5 = Convert.ToHexStringLower(MD5.HashData(body));
        using var put = await _s3.PutAsync("/objects/dir/a.bin", body,
            ("Content-Type", "application/x-test"), ("x-amz-meta-Color", "blue"), ("Cache-Control", "max-age=60"),
            ("Content-Disposition", "attachment"), ("Content-Language", "en"), ("Expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
            ("Content-Encoding", "gzip"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("\"" + md5 + "\"", put.Headers.ETag!.Tag);
        Assert.True(put.Headers.Contains("x-amz-request-id"));
        Assert.True(put.Headers.Contains("x-amz-id-2"));

        using var get = await _s3.GetAsync("/objects/dir/a.bin");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal("application/x-test", get.Content.Headers.ContentType!.ToString());
        Assert.Equal("blue", get.Headers.GetValues("x-amz-meta-color").Single());
        Assert.Equal("max-age=60", get.Headers.CacheControl!.ToString());
        Assert.Equal("attachment", get.Content.Headers.ContentDisposition!.ToString());
        Assert.Equal("en", get.Content.Headers.ContentLanguage.Single());
        Assert.Equal("gzip", get.Content.Headers.ContentEncoding.Single());
        Assert.Equal("bytes", get.Headers.AcceptRanges.Single());
        Assert.NotNull(get.Content.Headers.LastModified);
        Assert.Equal(100_000, get.Content.Headers.ContentLength);

        using var head = await _s3.SendAsync(HttpMethod.Head, "/objects/dir/a.bin");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(100_000, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Default_content_type_and_virtual_hosted_addressing()
    {
        using var put = await _s3.SendAsync(HttpMethod.Put, "/k1", new ByteArrayContent("hi"u8.ToArray()), ("Host", "objects.s3.us-east-1.localhost.localstack.cloud"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var get = await _s3.GetAsync("/objects/k1");
        Assert.Equal("binary/octet-stream", get.Content.Headers.ContentType!.ToString());
        using var viaLocalhost = await _s3.GetAsync("/k1", ("Host", "objects.localhost:" + _s3.Port));
        Assert.Equal("hi", await viaLocalhost.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Missing_key_and_bucket_errors()
    {
        using var noKey = await _s3.GetAsync("/objects/nope");
        Assert.Equal(HttpStatusCode.NotFound, noKey.StatusCode);
        var (code, error) = await Xml.ErrorAsync(noKey);
        Assert.Equal("NoSuchKey", code);
        Assert.Equal("The specified key does not exist.", error.Element("Message")!.Value);
        Assert.Equal("nope", error.Element("Key")!.Value);

        using var noBucket = await _s3.GetAsync("/missing-bucket/x");
        Assert.Equal(HttpStatusCode.NotFound, noBucket.StatusCode);
        (code, error) = await Xml.ErrorAsync(noBucket);
        Assert.Equal("NoSuchBucket", code);
        Assert.Equal("The specified bucket does not exist", error.Element("Message")!.Value);
        Assert.Equal("missing-bucket", error.Element("BucketName")!.Value);

        using var head = await _s3.SendAsync(HttpMethod.Head, "/objects/nope");
        Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());

        using var put = await _s3.PutAsync("/missing-bucket/x", "data");
        Assert.Equal("NoSuchBucket", (await Xml.ErrorAsync(put)).Code);
    }

    [Fact]
    public async Task Content_md5_is_verified()
    {
        var body = "hello world"u8.ToArray();
        using var ok = await _s3.PutAsync("/objects/md5", body, ("Content-MD5", Convert.ToBase64String(MD5.HashData(body))));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        using var bad = await _s3.PutAsync("/objects/md5", body, ("Content-MD5", Convert.ToBase64String(MD5.HashData("other"u8))));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var (code, error) = await Xml.ErrorAsync(bad);
        Assert.Equal("BadDigest", code);
        Assert.Equal("The Content-MD5 you specified did not match what we received.", error.Element("Message")!.Value);

        using var malformed = await _s3.PutAsync("/objects/md5", body, ("Content-MD5", "not-base64!"));
        Assert.Equal("InvalidDigest", (await Xml.ErrorAsync(malformed)).Code);

        // The failed writes left the first object in place.
        using var get = await _s3.GetAsync("/objects/md5");
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("crc32")]
    [InlineData("crc32c")]
    [InlineData("crc64nvme")]
    [InlineData("sha1")]
    [InlineData("sha256")]
    public async Task Flexible_checksums_are_verified_stored_and_returned(string algorithm)
    {
        var body = Encoding.UTF8.GetBytes("The quick brown fox jumps over the lazy dog " + algorithm);
        var alg = Checksums.Parse(algorithm)!.Value;
        var value = Convert.ToBase64String(Checksums.Compute(alg, body));
        using var put = await _s3.PutAsync("/objects/sum-" + algorithm, body, ("x-amz-checksum-" + algorithm, value));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(value, put.Headers.GetValues("x-amz-checksum-" + algorithm).Single());

        using var head = await _s3.SendAsync(HttpMethod.Head, "/objects/sum-" + algorithm, null, ("x-amz-checksum-mode", "ENABLED"));
        Assert.Equal(value, head.Headers.GetValues("x-amz-checksum-" + algorithm).Single());
        using var plain = await _s3.SendAsync(HttpMethod.Head, "/objects/sum-" + algorithm);
        Assert.False(plain.Headers.Contains("x-amz-checksum-" + algorithm));

        var wrong = Convert.ToBase64String(Checksums.Compute(alg, "something else"u8));
        using var bad = await _s3.PutAsync("/objects/sum-" + algorithm, body, ("x-amz-checksum-" + algorithm, wrong));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var (code, error) = await Xml.ErrorAsync(bad);
        Assert.Equal("BadDigest", code);
        Assert.Equal($"The {algorithm.ToUpperInvariant()} you specified did not match the calculated checksum.", error.Element("Message")!.Value);

        using var invalid = await _s3.PutAsync("/objects/sum-" + algorithm, body, ("x-amz-checksum-" + algorithm, "AAAA"));
        Assert.Equal("InvalidRequest", (await Xml.ErrorAsync(invalid)).Code);
    }

    [Fact]
    public async Task Objects_get_a_default_crc64nvme()
    {
        var body = "default checksum"u8.ToArray();
        using var put = await _s3.PutAsync("/objects/default-sum", body);
        Assert.Equal(Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc64Nvme, body)), put.Headers.GetValues("x-amz-checksum-crc64nvme").Single());
        Assert.Equal("FULL_OBJECT", put.Headers.GetValues("x-amz-checksum-type").Single());
        using var head = await _s3.SendAsync(HttpMethod.Head, "/objects/default-sum", null, ("x-amz-checksum-mode", "ENABLED"));
        Assert.Equal(Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc64Nvme, body)), head.Headers.GetValues("x-amz-checksum-crc64nvme").Single());
    }

    [Fact]
    public async Task If_none_match_star_on_put()
    {
        using var first = await _s3.PutAsync("/objects/once", "one", ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var second = await _s3.PutAsync("/objects/once", "two", ("If-None-Match", "*"));
        Assert.Equal(HttpStatusCode.PreconditionFailed, second.StatusCode);
        var (code, error) = await Xml.ErrorAsync(second);
        Assert.Equal("PreconditionFailed", code);
        Assert.Equal("At least one of the pre-conditions you specified did not hold", error.Element("Message")!.Value);
        Assert.Equal("If-None-Match", error.Element("Condition")!.Value);
        using var get = await _s3.GetAsync("/objects/once");
        Assert.Equal("one", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ranges()
    {
        var body = Encoding.ASCII.GetBytes("0123456789");
        (await _s3.PutAsync("/objects/range", body)).Dispose();

        async Task<(HttpStatusCode Status, string Body, string? ContentRange)> Get(string range)
        {
            using var response = await _s3.GetAsync("/objects/range", ("Range", range));
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentRange?.ToString());
        }

        Assert.Equal((HttpStatusCode.PartialContent, "234", "bytes 2-4/10"), await Get("bytes=2-4"));
        Assert.Equal((HttpStatusCode.PartialContent, "789", "bytes 7-9/10"), await Get("bytes=7-"));
        Assert.Equal((HttpStatusCode.PartialContent, "89", "bytes 8-9/10"), await Get("bytes=-2"));
        Assert.Equal((HttpStatusCode.PartialContent, "56789", "bytes 5-9/10"), await Get("bytes=5-100"));
        Assert.Equal((HttpStatusCode.PartialContent, "0123456789", "bytes 0-9/10"), await Get("bytes=-50"));
        Assert.Equal(HttpStatusCode.OK, (await Get("bytes=0-1,3-4")).Status);
        Assert.Equal("0123456789", (await Get("bytes=0-1,3-4")).Body);

        using var unsatisfiable = await _s3.GetAsync("/objects/range", ("Range", "bytes=10-20"));
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
        var (code, error) = await Xml.ErrorAsync(unsatisfiable);
        Assert.Equal("InvalidRange", code);
        Assert.Equal("The requested range is not satisfiable", error.Element("Message")!.Value);
        Assert.Equal("10", error.Element("ActualObjectSize")!.Value);
        Assert.Equal("bytes=10-20", error.Element("RangeRequested")!.Value);
    }

    [Fact]
    public async Task Conditional_gets_follow_s3_precedence()
    {
        using var put = await _s3.PutAsync("/objects/cond", "conditional");
        var etag = put.Headers.ETag!.Tag;
        var past = "Sat, 01 Jan 2000 00:00:00 GMT";
        var future = "Fri, 01 Jan 2100 00:00:00 GMT";

        async Task<HttpStatusCode> Get(params (string, string)[] headers)
        {
            using var response = await _s3.GetAsync("/objects/cond", headers);
            if (response.StatusCode == HttpStatusCode.NotModified)
            {
                Assert.Empty(await response.Content.ReadAsByteArrayAsync());
                Assert.Equal(etag, response.Headers.ETag!.Tag);
            }

            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await Get(("If-Match", etag)));
        Assert.Equal(HttpStatusCode.OK, await Get(("If-Match", "*")));
        Assert.Equal(HttpStatusCode.PreconditionFailed, await Get(("If-Match", "\"0000\"")));
        Assert.Equal(HttpStatusCode.NotModified, await Get(("If-None-Match", etag)));
        Assert.Equal(HttpStatusCode.OK, await Get(("If-None-Match", "\"0000\"")));
        Assert.Equal(HttpStatusCode.NotModified, await Get(("If-Modified-Since", future)));
        Assert.Equal(HttpStatusCode.OK, await Get(("If-Modified-Since", past)));
        Assert.Equal(HttpStatusCode.PreconditionFailed, await Get(("If-Unmodified-Since", past)));
        Assert.Equal(HttpStatusCode.OK, await Get(("If-Unmodified-Since", future)));
        // If-Match true + If-Unmodified-Since false → 200.
        Assert.Equal(HttpStatusCode.OK, await Get(("If-Match", etag), ("If-Unmodified-Since", past)));
        // If-None-Match false + If-Modified-Since true → 304.
        Assert.Equal(HttpStatusCode.NotModified, await Get(("If-None-Match", etag), ("If-Modified-Since", past)));
        // If-None-Match true (no match) + If-Modified-Since false → 200 (If-Modified-Since ignored).
        Assert.Equal(HttpStatusCode.OK, await Get(("If-None-Match", "\"0000\""), ("If-Modified-Since", future)));

        using var head = await _s3.SendAsync(HttpMethod.Head, "/objects/cond", null, ("If-Match", "\"0000\""));
        Assert.Equal(HttpStatusCode.PreconditionFailed, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Response_header_overrides()
    {
        (await _s3.PutAsync("/objects/override", "x", ("Content-Type", "text/plain"))).Dispose();
        using var get = await _s3.GetAsync("/objects/override?response-content-type=application/json&response-content-language=fr&response-expires=Thu%2C%2001%20Dec%202094%2016%3A00%3A00%20GMT&response-cache-control=no-cache&response-content-disposition=inline&response-content-encoding=identity");
        Assert.Equal("application/json", get.Content.Headers.ContentType!.ToString());
        Assert.Equal("fr", get.Content.Headers.ContentLanguage.Single());
        Assert.Equal("no-cache", get.Headers.CacheControl!.ToString());
        Assert.Equal("inline", get.Content.Headers.ContentDisposition!.ToString());
        Assert.Equal("identity", get.Content.Headers.ContentEncoding.Single());
        Assert.Equal("Thu, 01 Dec 2094 16:00:00 GMT", get.Content.Headers.GetValues("Expires").Single());
    }

    [Fact]
    public async Task Delete_is_idempotent_and_emits_events()
    {
        (await _s3.PutAsync("/objects/gone", "x")).Dispose();
        using var delete = await _s3.SendAsync(HttpMethod.Delete, "/objects/gone");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var again = await _s3.SendAsync(HttpMethod.Delete, "/objects/gone");
        Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        using var get = await _s3.GetAsync("/objects/gone");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        var events = _s3.Sink.Events.Where(e => e.Key == "gone").Select(e => e.EventName).ToList();
        Assert.Equal(["ObjectCreated:Put", "ObjectRemoved:Delete"], events);
    }

    [Fact]
    public async Task Delete_objects_reports_each_key_and_quiet_mode()
    {
        (await _s3.PutAsync("/objects/d1", "x")).Dispose();
        (await _s3.PutAsync("/objects/d2", "x")).Dispose();
        var xml = "<Delete><Object><Key>d1</Key></Object><Object><Key>d2</Key></Object><Object><Key>never</Key></Object></Delete>";
        using var response = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent(xml));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await Xml.ReadAsync(response);
        Assert.Equal(["d1", "d2", "never"], result.All("Deleted").Select(d => d.Value("Key")).ToList());
        using var gone = await _s3.GetAsync("/objects/d1");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);

        using var quiet = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent("<Delete><Quiet>true</Quiet><Object><Key>d1</Key></Object></Delete>"));
        Assert.Empty((await Xml.ReadAsync(quiet)).All("Deleted"));

        var body = "<Delete><Object><Key>d1</Key></Object></Delete>";
        using var withSum = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent(body),
            ("x-amz-checksum-crc32", Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, Encoding.UTF8.GetBytes(body)))));
        Assert.Equal(HttpStatusCode.OK, withSum.StatusCode);
        using var badSum = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent(body), ("x-amz-checksum-crc32", "AAAAAA=="));
        Assert.Equal("BadDigest", (await Xml.ErrorAsync(badSum)).Code);
        using var badMd5 = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent(body), ("Content-MD5", Convert.ToBase64String(MD5.HashData("x"u8))));
        Assert.Equal("BadDigest", (await Xml.ErrorAsync(badMd5)).Code);

        using var malformed = await _s3.SendAsync(HttpMethod.Post, "/objects?delete", new StringContent("<Delete><Object>"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        var (code, error) = await Xml.ErrorAsync(malformed);
        Assert.Equal("MalformedXML", code);
        Assert.Equal("The XML you provided was not well-formed or did not validate against our published schema", error.Element("Message")!.Value);
    }

    [Fact]
    public async Task Copy_object_directives_conditions_and_self_copy()
    {
        using var put = await _s3.PutAsync("/objects/src key+1", "copy me", ("Content-Type", "text/plain"), ("x-amz-meta-a", "1"), ("x-amz-tagging", "t=1"));
        var etag = put.Headers.ETag!.Tag;

        using var copy = await _s3.SendAsync(HttpMethod.Put, "/objects/dst", null, ("x-amz-copy-source", "/objects/src%20key%2B1"));
        Assert.Equal(HttpStatusCode.OK, copy.StatusCode);
        var result = await Xml.ReadAsync(copy);
        Assert.Equal("CopyObjectResult", result.Name.LocalName);
        Assert.Equal(etag, result.Value("ETag"));
        Assert.NotNull(result.Value("LastModified"));
        using var get = await _s3.GetAsync("/objects/dst");
        Assert.Equal("copy me", await get.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", get.Content.Headers.ContentType!.ToString());
        Assert.Equal("1", get.Headers.GetValues("x-amz-meta-a").Single());
        Assert.Equal("1", get.Headers.GetValues("x-amz-tagging-count").Single());

        using var replace = await _s3.SendAsync(HttpMethod.Put, "/objects/dst2", null, ("x-amz-copy-source", "objects/src%20key%2B1"),
            ("x-amz-metadata-directive", "REPLACE"), ("x-amz-meta-b", "2"), ("Content-Type", "application/x-new"), ("x-amz-tagging-directive", "REPLACE"));
        Assert.Equal(HttpStatusCode.OK, replace.StatusCode);
        using var get2 = await _s3.GetAsync("/objects/dst2");
        Assert.False(get2.Headers.Contains("x-amz-meta-a"));
        Assert.Equal("2", get2.Headers.GetValues("x-amz-meta-b").Single());
        Assert.Equal("application/x-new", get2.Content.Headers.ContentType!.ToString());
        Assert.False(get2.Headers.Contains("x-amz-tagging-count"));

        using var self = await _s3.SendAsync(HttpMethod.Put, "/objects/dst", null, ("x-amz-copy-source", "/objects/dst"));
        Assert.Equal(HttpStatusCode.BadRequest, self.StatusCode);
        var (code, error) = await Xml.ErrorAsync(self);
        Assert.Equal("InvalidRequest", code);
        Assert.Equal("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", error.Element("Message")!.Value);

        using var selfReplace = await _s3.SendAsync(HttpMethod.Put, "/objects/dst", null, ("x-amz-copy-source", "/objects/dst"), ("x-amz-metadata-directive", "REPLACE"), ("x-amz-meta-c", "3"));
        Assert.Equal(HttpStatusCode.OK, selfReplace.StatusCode);
        using var get3 = await _s3.GetAsync("/objects/dst");
        Assert.Equal("copy me", await get3.Content.ReadAsStringAsync());
        Assert.Equal("3", get3.Headers.GetValues("x-amz-meta-c").Single());

        foreach (var (header, value) in new[]
        {
            ("x-amz-copy-source-if-match", "\"0000\""), ("x-amz-copy-source-if-none-match", etag),
            ("x-amz-copy-source-if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"), ("x-amz-copy-source-if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        })
        {
            using var failed = await _s3.SendAsync(HttpMethod.Put, "/objects/dst3", null, ("x-amz-copy-source", "/objects/src%20key%2B1"), (header, value));
            Assert.Equal(HttpStatusCode.PreconditionFailed, failed.StatusCode);
            Assert.Equal("PreconditionFailed", (await Xml.ErrorAsync(failed)).Code);
        }

        using var missing = await _s3.SendAsync(HttpMethod.Put, "/objects/dst3", null, ("x-amz-copy-source", "/objects/none"));
        Assert.Equal("NoSuchKey", (await Xml.ErrorAsync(missing)).Code);
        Assert.Contains(_s3.Sink.Events, e => e.EventName == "ObjectCreated:Copy" && e.Key == "dst");
    }

    [Fact]
    public async Task Object_tagging()
    {
        (await _s3.PutAsync("/objects/tagged", "x", ("x-amz-tagging", "a=1&b=two%20words"))).Dispose();
        using var get = await _s3.GetAsync("/objects/tagged?tagging");
        var tags = (await Xml.ReadAsync(get)).Element(Xml.S3 + "TagSet")!.Elements().Select(t => (t.Value("Key"), t.Value("Value"))).ToList();
        Assert.Equal([("a", "1"), ("b", "two words")], tags);

        using var put = await _s3.PutAsync("/objects/tagged?tagging", "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var get2 = await _s3.GetAsync("/objects/tagged?tagging");
        Assert.Single((await Xml.ReadAsync(get2)).Element(Xml.S3 + "TagSet")!.Elements());
        using var obj = await _s3.GetAsync("/objects/tagged");
        Assert.Equal("1", obj.Headers.GetValues("x-amz-tagging-count").Single());
        Assert.Equal("x", await obj.Content.ReadAsStringAsync());

        using var delete = await _s3.SendAsync(HttpMethod.Delete, "/objects/tagged?tagging");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var get3 = await _s3.GetAsync("/objects/tagged?tagging");
        Assert.Empty((await Xml.ReadAsync(get3)).Element(Xml.S3 + "TagSet")!.Elements());

        using var missing = await _s3.GetAsync("/objects/nope?tagging");
        Assert.Equal("NoSuchKey", (await Xml.ErrorAsync(missing)).Code);
        using var tooMany = await _s3.PutAsync("/objects/tagged?tagging", "<Tagging><TagSet>" + string.Concat(Enumerable.Range(0, 11).Select(i => $"<Tag><Key>k{i}</Key><Value>v</Value></Tag>")) + "</TagSet></Tagging>");
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
    }

    [Fact]
    public async Task Keys_are_taken_literally_from_the_raw_path()
    {
        var traversal = await _s3.RawAsync("PUT /objects/../../x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", "abc"u8.ToArray());
        Assert.Equal(200, traversal.Status);
        var encoded = await _s3.RawAsync("PUT /objects/%2e%2e/y HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\n", "def"u8.ToArray());
        Assert.Equal(200, encoded.Status);

        using var list = await _s3.GetAsync("/objects?list-type=2");
        var keys = (await Xml.ReadAsync(list)).All("Contents").Select(c => c.Value("Key")).ToList();
        Assert.Contains("../../x", keys);
        Assert.Contains("../y", keys);
        var get = await _s3.RawAsync("GET /objects/../../x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.Equal("abc", get.Text);
    }

    [Fact]
    public async Task Key_longer_than_1024_bytes_is_rejected()
    {
        using var ok = await _s3.PutAsync("/objects/" + new string('k', 1024), "x");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var response = await _s3.PutAsync("/objects/" + new string('k', 1025), "x");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, error) = await Xml.ErrorAsync(response);
        Assert.Equal("KeyTooLongError", code);
        Assert.Equal("Your key is too long", error.Element("Message")!.Value);
    }

    [Fact]
    public async Task Put_over_5_gib_is_rejected_before_the_body()
    {
        var response = await _s3.RawAsync("PUT /objects/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5368709121\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, response.Status);
        Assert.Contains("<Code>EntityTooLarge</Code>", response.Text, StringComparison.Ordinal);
        var decoded = await _s3.RawAsync("PUT /objects/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nx-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\r\nx-amz-decoded-content-length: 5368709121\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, decoded.Status);
        Assert.Contains("<Code>EntityTooLarge</Code>", decoded.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Aws_chunked_unsigned_trailer_body_is_decoded_and_verified()
    {
        var data = RandomNumberGenerator.GetBytes(70_000);
        var crc = Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, data));
        var body = ChunkedBody(data, 65_536, signed: false, trailer: "x-amz-checksum-crc32:" + crc);
        using var put = await _s3.PutAsync("/objects/chunked", body,
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("Content-Encoding", "aws-chunked"),
            ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-decoded-content-length", data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("x-amz-sdk-checksum-algorithm", "CRC32"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal(crc, put.Headers.GetValues("x-amz-checksum-crc32").Single());
        using var get = await _s3.GetAsync("/objects/chunked", ("x-amz-checksum-mode", "ENABLED"));
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
        Assert.Empty(get.Content.Headers.ContentEncoding);
        Assert.Equal(crc, get.Headers.GetValues("x-amz-checksum-crc32").Single());

        var badTrailer = ChunkedBody(data, 8192, signed: false, trailer: "x-amz-checksum-crc32:" + Convert.ToBase64String(Checksums.Compute(ChecksumAlgorithm.Crc32, "x"u8)));
        using var bad = await _s3.PutAsync("/objects/chunked", badTrailer,
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("Content-Encoding", "aws-chunked"), ("x-amz-trailer", "x-amz-checksum-crc32"));
        Assert.Equal("BadDigest", (await Xml.ErrorAsync(bad)).Code);
    }

    [Fact]
    public async Task Aws_chunked_signed_body_is_decoded()
    {
        var data = RandomNumberGenerator.GetBytes(20_000);
        var body = ChunkedBody(data, 8192, signed: true, trailer: null);
        using var put = await _s3.PutAsync("/objects/signed", body,
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked,gzip"),
            ("x-amz-decoded-content-length", data.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var get = await _s3.GetAsync("/objects/signed");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
        Assert.Equal("gzip", get.Content.Headers.ContentEncoding.Single());

        using var wrongLength = await _s3.PutAsync("/objects/signed", body,
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("x-amz-decoded-content-length", "5"));
        Assert.Equal("IncompleteBody", (await Xml.ErrorAsync(wrongLength)).Code);
    }

    [Fact]
    public async Task Payload_sha256_is_verified()
    {
        var body = "payload"u8.ToArray();
        using var ok = await _s3.PutAsync("/objects/sha", body, ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData(body))));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var bad = await _s3.PutAsync("/objects/sha", body, ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData("x"u8))));
        Assert.Equal("XAmzContentSHA256Mismatch", (await Xml.ErrorAsync(bad)).Code);
    }

    [Fact]
    public async Task Put_without_content_length_is_411_and_chunked_transfer_is_fine()
    {
        var missing = await _s3.RawAsync("PUT /objects/nolength HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(411, missing.Status);
        Assert.Contains("<Code>MissingContentLength</Code>", missing.Text, StringComparison.Ordinal);
        var chunked = await _s3.RawAsync("PUT /objects/te HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        Assert.Equal(200, chunked.Status);
        using var get = await _s3.GetAsync("/objects/te");
        Assert.Equal("abc", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Browser_form_post_upload()
    {
        var form = new MultipartFormDataContent
        {
            { new StringContent("uploads/${filename}"), "key" },
            { new StringContent("text/csv"), "Content-Type" },
            { new StringContent("v"), "x-amz-meta-k" },
            { new StringContent("201"), "success_action_status" },
            { new StringContent("eyJleHBpcmF0aW9uIjoiMjEwMC0wMS0wMVQwMDowMDowMFoifQ=="), "policy" },
        };
        var file = new ByteArrayContent("a,b\n1,2\n"u8.ToArray());
        form.Add(file, "file", "data.csv");
        using var response = await _s3.Client.PostAsync("/objects", form);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var xml = await Xml.ReadAsync(response);
        Assert.Equal("uploads/data.csv", xml.Element("Key")!.Value);
        using var get = await _s3.GetAsync("/objects/uploads/data.csv");
        Assert.Equal("a,b\n1,2\n", await get.Content.ReadAsStringAsync());
        Assert.Equal("text/csv", get.Content.Headers.ContentType!.ToString());
        Assert.Equal("v", get.Headers.GetValues("x-amz-meta-k").Single());
        Assert.Contains(_s3.Sink.Events, e => e.EventName == "ObjectCreated:Post" && e.Key == "uploads/data.csv");

        var noKey = new MultipartFormDataContent { { new ByteArrayContent("x"u8.ToArray()), "file", "f" } };
        using var missing = await _s3.Client.PostAsync("/objects", noKey);
        Assert.Equal("InvalidArgument", (await Xml.ErrorAsync(missing)).Code);
    }

    [Fact]
    public async Task Version_ids_other_than_null_are_invalid()
    {
        (await _s3.PutAsync("/objects/versioned", "x")).Dispose();
        using var ok = await _s3.GetAsync("/objects/versioned?versionId=null");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var bad = await _s3.GetAsync("/objects/versioned?versionId=abc");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("InvalidArgument", (await Xml.ErrorAsync(bad)).Code);
    }

    [Fact]
    public async Task Virtual_hosted_bucket_operations()
    {
        (await _s3.PutAsync("/objects/vh/one", "1")).Dispose();
        using var list = await _s3.GetAsync("/?list-type=2&prefix=vh/", ("Host", "objects.s3.millrace.test:" + _s3.Port));
        var xml = await Xml.ReadAsync(list);
        Assert.Equal("objects", xml.Value("Name"));
        Assert.Equal(["vh/one"], xml.All("Contents").Select(c => c.Value("Key")).ToList());
        using var head = await _s3.SendAsync(HttpMethod.Head, "/", null, ("Host", "objects.s3.us-east-1.amazonaws.com"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task Get_object_attributes()
    {
        (await _s3.PutAsync("/objects/attrs", "12345")).Dispose();
        using var response = await _s3.GetAsync("/objects/attrs?attributes", ("x-amz-object-attributes", "ETag,ObjectSize,StorageClass"));
        var xml = await Xml.ReadAsync(response);
        Assert.Equal("5", xml.Value("ObjectSize"));
        Assert.Equal("STANDARD", xml.Value("StorageClass"));
    }

    internal static byte[] ChunkedBody(byte[] data, int chunkSize, bool signed, string? trailer)
    {
        var ms = new MemoryStream();
        void Write(string s) => ms.Write(Encoding.ASCII.GetBytes(s));
        for (int offset = 0; offset < data.Length; offset += chunkSize)
        {
            int n = Math.Min(chunkSize, data.Length - offset);
            Write(n.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + (signed ? ";chunk-signature=" + new string('a', 64) : "") + "\r\n");
            ms.Write(data, offset, n);
            Write("\r\n");
        }

        Write("0" + (signed ? ";chunk-signature=" + new string('b', 64) : "") + "\r\n");
        if (trailer is not null)
        {
            Write(trailer + "\r\n");
            if (signed)
            {
                Write("x-amz-trailer-signature:" + new string('c', 64) + "\r\n");
            }
        }

        Write("\r\n");
        return ms.ToArray();
    }
}
