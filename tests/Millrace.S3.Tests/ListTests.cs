using System.Net;

namespace Millrace.S3.Tests;

public sealed class ListTests : IAsyncLifetime
{
    private S3TestServer _s3 = null!;

    public async Task InitializeAsync()
    {
        _s3 = await S3TestServer.StartAsync();
        await _s3.CreateBucketAsync("list");
        foreach (var key in new[] { "a.txt", "dir/one", "dir/two", "dir/sub/three", "other/x", "z" })
        {
            (await _s3.PutAsync("/list/" + key, key)).Dispose();
        }
    }

    public async Task DisposeAsync() => await _s3.DisposeAsync();

    private async Task<System.Xml.Linq.XElement> List(string query)
    {
        using var response = await _s3.GetAsync("/list?" + query);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await Xml.ReadAsync(response);
    }

    private static List<string?> Keys(System.Xml.Linq.XElement xml) => [.. xml.All("Contents").Select(c => c.Value("Key"))];

    private static List<string?> Prefixes(System.Xml.Linq.XElement xml) => [.. xml.All("CommonPrefixes").Select(c => c.Value("Prefix"))];

    [Fact]
    public async Task List_v2_all_and_with_prefix_delimiter()
    {
        var all = await List("list-type=2");
        Assert.Equal(["a.txt", "dir/one", "dir/sub/three", "dir/two", "other/x", "z"], Keys(all));
        Assert.Equal("6", all.Value("KeyCount"));
        Assert.Equal("false", all.Value("IsTruncated"));
        Assert.Equal("1000", all.Value("MaxKeys"));
        var first = all.All("Contents").First();
        Assert.Equal("5", first.Value("Size"));
        Assert.StartsWith("\"", first.Value("ETag"), StringComparison.Ordinal);
        Assert.Equal("STANDARD", first.Value("StorageClass"));
        Assert.Null(first.Element(Xml.S3 + "Owner"));

        var rolled = await List("list-type=2&delimiter=/");
        Assert.Equal(["a.txt", "z"], Keys(rolled));
        Assert.Equal(["dir/", "other/"], Prefixes(rolled));
        Assert.Equal("4", rolled.Value("KeyCount"));

        var dir = await List("list-type=2&delimiter=/&prefix=dir/");
        Assert.Equal(["dir/one", "dir/two"], Keys(dir));
        Assert.Equal(["dir/sub/"], Prefixes(dir));

        var owner = await List("list-type=2&fetch-owner=true&max-keys=1");
        Assert.NotNull(owner.All("Contents").Single().Element(Xml.S3 + "Owner"));

        var after = await List("list-type=2&start-after=dir/two");
        Assert.Equal(["other/x", "z"], Keys(after));
        Assert.Equal("dir/two", after.Value("StartAfter"));
    }

    [Fact]
    public async Task List_v2_pages_with_continuation_tokens()
    {
        var seen = new List<string?>();
        string? token = null;
        for (int page = 0; page < 10; page++)
        {
            var xml = await List("list-type=2&max-keys=2" + (token is null ? "" : "&continuation-token=" + Uri.EscapeDataString(token)));
            seen.AddRange(Keys(xml));
            if (xml.Value("IsTruncated") != "true")
            {
                Assert.Null(xml.Value("NextContinuationToken"));
                break;
            }

            token = xml.Value("NextContinuationToken");
            Assert.NotNull(token);
        }

        Assert.Equal(["a.txt", "dir/one", "dir/sub/three", "dir/two", "other/x", "z"], seen);

        // Paging across common prefixes never repeats a prefix.
        var entries = new List<string?>();
        token = null;
        for (int page = 0; page < 10; page++)
        {
            var xml = await List("list-type=2&max-keys=1&delimiter=/" + (token is null ? "" : "&continuation-token=" + Uri.EscapeDataString(token)));
            entries.AddRange(Keys(xml));
            entries.AddRange(Prefixes(xml));
            if (xml.Value("IsTruncated") != "true")
            {
                break;
            }

            token = xml.Value("NextContinuationToken");
        }

        Assert.Equal(["a.txt", "dir/", "other/", "z"], entries);
    }

    [Fact]
    public async Task List_v1_with_marker_and_next_marker()
    {
        var page = await List("max-keys=2&delimiter=/");
        Assert.Equal("true", page.Value("IsTruncated"));
        Assert.Equal("dir/", page.Value("NextMarker"));
        Assert.Equal("", page.Value("Marker"));
        Assert.NotNull(page.All("Contents").First().Element(Xml.S3 + "Owner"));
        var next = await List("max-keys=2&delimiter=/&marker=dir/");
        Assert.Equal(["z"], Keys(next));
        Assert.Equal(["other/"], Prefixes(next));
        Assert.Equal("false", next.Value("IsTruncated"));

        var plain = await List("marker=dir/two");
        Assert.Equal(["other/x", "z"], Keys(plain));
    }

    [Fact]
    public async Task List_errors()
    {
        foreach (var query in new[] { "list-type=2&max-keys=-1", "list-type=2&max-keys=abc", "max-keys=1.5" })
        {
            using var response = await _s3.GetAsync("/list?" + query);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var (code, error) = await Xml.ErrorAsync(response);
            Assert.Equal("InvalidArgument", code);
            Assert.Equal("max-keys", error.Element("ArgumentName")!.Value);
        }

        using var badToken = await _s3.GetAsync("/list?list-type=2&continuation-token=garbage!");
        var (tokenCode, tokenError) = await Xml.ErrorAsync(badToken);
        Assert.Equal("InvalidArgument", tokenCode);
        Assert.Equal("The continuation token provided is incorrect", tokenError.Element("Message")!.Value);

        using var noBucket = await _s3.GetAsync("/nolist?list-type=2");
        Assert.Equal("NoSuchBucket", (await Xml.ErrorAsync(noBucket)).Code);

        var zero = await List("list-type=2&max-keys=0");
        Assert.Empty(Keys(zero));
        var capped = await List("list-type=2&max-keys=5000");
        Assert.Equal("1000", capped.Value("MaxKeys"));
    }

    [Fact]
    public async Task Url_encoding_type_and_xml_escaping()
    {
        await _s3.CreateBucketAsync("enc");
        foreach (var key in new[] { "foo+1/bar", "quux ab/thud", "amp&<>\"'", "ctl\u0001key", "ü/é" })
        {
            using var put = await _s3.PutAsync("/enc/" + Uri.EscapeDataString(key), "x");
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var encoded = await _s3.GetAsync("/enc?list-type=2&encoding-type=url&delimiter=/");
        var xml = await Xml.ReadAsync(encoded);
        Assert.Equal("url", xml.Value("EncodingType"));
        Assert.Equal(["amp%26%3C%3E%22%27", "ctl%01key"], Keys(xml));
        Assert.Equal(["foo%2B1/", "quux%20ab/", "%C3%BC/"], Prefixes(xml));

        using var raw = await _s3.GetAsync("/enc?list-type=2&prefix=amp");
        var text = await raw.Content.ReadAsStringAsync();
        Assert.Contains("<Key>amp&amp;&lt;&gt;&quot;'</Key>", text, StringComparison.Ordinal);
        using var ctl = await _s3.GetAsync("/enc?list-type=2&prefix=ctl");
        Assert.Contains("<Key>ctl&#x1;key</Key>", await ctl.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var bad = await _s3.GetAsync("/enc?list-type=2&encoding-type=base64");
        Assert.Equal("InvalidArgument", (await Xml.ErrorAsync(bad)).Code);
    }
}
