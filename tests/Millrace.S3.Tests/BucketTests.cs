using System.Net;

namespace Millrace.S3.Tests;

public sealed class BucketTests : IAsyncLifetime
{
    private S3TestServer _s3 = null!;

    public async Task InitializeAsync() => _s3 = await S3TestServer.StartAsync();

    public async Task DisposeAsync() => await _s3.DisposeAsync();

    [Fact]
    public async Task Create_list_head_delete()
    {
        using var create = await _s3.SendAsync(HttpMethod.Put, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        Assert.Equal("/alpha-bucket", create.Headers.Location!.OriginalString);
        await _s3.CreateBucketAsync("beta.bucket");

        using var list = await _s3.GetAsync("/");
        var xml = await Xml.ReadAsync(list);
        Assert.Equal("ListAllMyBucketsResult", xml.Name.LocalName);
        Assert.NotNull(xml.Element(Xml.S3 + "Owner")!.Value("ID"));
        Assert.NotNull(xml.Element(Xml.S3 + "Owner")!.Value("DisplayName"));
        var buckets = xml.Element(Xml.S3 + "Buckets")!.Elements().ToList();
        Assert.Equal(["alpha-bucket", "beta.bucket"], buckets.Select(b => b.Value("Name")).ToList());
        Assert.All(buckets, b => Assert.EndsWith("Z", b.Value("CreationDate"), StringComparison.Ordinal));

        using var paged = await _s3.GetAsync("/?max-buckets=1");
        var page = await Xml.ReadAsync(paged);
        Assert.Single(page.Element(Xml.S3 + "Buckets")!.Elements());
        var token = page.Value("ContinuationToken")!;
        using var paged2 = await _s3.GetAsync("/?max-buckets=1&continuation-token=" + Uri.EscapeDataString(token));
        Assert.Equal("beta.bucket", (await Xml.ReadAsync(paged2)).Element(Xml.S3 + "Buckets")!.Elements().Single().Value("Name"));
        using var prefixed = await _s3.GetAsync("/?prefix=be");
        Assert.Equal("beta.bucket", (await Xml.ReadAsync(prefixed)).Element(Xml.S3 + "Buckets")!.Elements().Single().Value("Name"));

        using var head = await _s3.SendAsync(HttpMethod.Head, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal("us-east-1", head.Headers.GetValues("x-amz-bucket-region").Single());

        // us-east-1 keeps AWS's legacy answer: re-creating a bucket you own there succeeds.
        using var again = await _s3.SendAsync(HttpMethod.Put, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("/alpha-bucket", again.Headers.Location!.OriginalString);

        // Anywhere else it is 409 BucketAlreadyOwnedByYou.
        const string euConfig = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        (await _s3.PutAsync("/owned-in-eu", euConfig)).Dispose();
        using var againEu = await _s3.PutAsync("/owned-in-eu", euConfig);
        Assert.Equal(HttpStatusCode.Conflict, againEu.StatusCode);
        var (code, error) = await Xml.ErrorAsync(againEu);
        Assert.Equal("BucketAlreadyOwnedByYou", code);
        Assert.Equal("Your previous request to create the named bucket succeeded and you already own it.", error.Element("Message")!.Value);
        (await _s3.SendAsync(HttpMethod.Delete, "/owned-in-eu")).Dispose();

        (await _s3.PutAsync("/alpha-bucket/obj", "x")).Dispose();
        using var notEmpty = await _s3.SendAsync(HttpMethod.Delete, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.Conflict, notEmpty.StatusCode);
        (code, error) = await Xml.ErrorAsync(notEmpty);
        Assert.Equal("BucketNotEmpty", code);
        Assert.Equal("The bucket you tried to delete is not empty", error.Element("Message")!.Value);

        (await _s3.SendAsync(HttpMethod.Delete, "/alpha-bucket/obj")).Dispose();
        using var delete = await _s3.SendAsync(HttpMethod.Delete, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var headGone = await _s3.SendAsync(HttpMethod.Head, "/alpha-bucket");
        Assert.Equal(HttpStatusCode.NotFound, headGone.StatusCode);
        Assert.Empty(await headGone.Content.ReadAsByteArrayAsync());
        using var deleteGone = await _s3.SendAsync(HttpMethod.Delete, "/alpha-bucket");
        Assert.Equal("NoSuchBucket", (await Xml.ErrorAsync(deleteGone)).Code);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("UpperCase")]
    [InlineData("has_underscore")]
    [InlineData("-starts-with-dash")]
    [InlineData("ends-with-dash-")]
    [InlineData("double..dot")]
    [InlineData("192.168.5.4")]
    [InlineData("xn--punycode")]
    [InlineData("bucket-s3alias")]
    public async Task Invalid_bucket_names_are_rejected(string name)
    {
        using var response = await _s3.SendAsync(HttpMethod.Put, "/" + name);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, error) = await Xml.ErrorAsync(response);
        Assert.Equal("InvalidBucketName", code);
        Assert.Equal("The specified bucket is not valid.", error.Element("Message")!.Value);
    }

    [Fact]
    public async Task Location_constraint_and_get_bucket_location()
    {
        await _s3.CreateBucketAsync("default-region");
        using var location = await _s3.GetAsync("/default-region?location");
        var xml = await Xml.ReadAsync(location);
        Assert.Equal("LocationConstraint", xml.Name.LocalName);
        Assert.Equal("", xml.Value);

        using var create = await _s3.PutAsync("/eu-bucket", "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>");
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        using var eu = await _s3.GetAsync("/eu-bucket?location");
        Assert.Equal("eu-west-1", (await Xml.ReadAsync(eu)).Value);
        using var head = await _s3.SendAsync(HttpMethod.Head, "/eu-bucket");
        Assert.Equal("eu-west-1", head.Headers.GetValues("x-amz-bucket-region").Single());

        using var malformed = await _s3.PutAsync("/bad-config", "<CreateBucketConfiguration>");
        Assert.Equal("MalformedXML", (await Xml.ErrorAsync(malformed)).Code);
    }

    [Fact]
    public async Task Bucket_tagging()
    {
        await _s3.CreateBucketAsync("tagged");
        using var none = await _s3.GetAsync("/tagged?tagging");
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        var (code, error) = await Xml.ErrorAsync(none);
        Assert.Equal("NoSuchTagSet", code);
        Assert.Equal("The TagSet does not exist", error.Element("Message")!.Value);

        using var put = await _s3.PutAsync("/tagged?tagging", "<Tagging><TagSet><Tag><Key>env</Key><Value>test</Value></Tag><Tag><Key>team</Key><Value>s3 &amp; co</Value></Tag></TagSet></Tagging>");
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
        using var get = await _s3.GetAsync("/tagged?tagging");
        var tags = (await Xml.ReadAsync(get)).Element(Xml.S3 + "TagSet")!.Elements().Select(t => (t.Value("Key"), t.Value("Value"))).ToList();
        Assert.Equal([("env", "test"), ("team", "s3 & co")], tags);

        using var duplicate = await _s3.PutAsync("/tagged?tagging", "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>");
        Assert.Equal("InvalidTag", (await Xml.ErrorAsync(duplicate)).Code);

        using var delete = await _s3.SendAsync(HttpMethod.Delete, "/tagged?tagging");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var gone = await _s3.GetAsync("/tagged?tagging");
        Assert.Equal("NoSuchTagSet", (await Xml.ErrorAsync(gone)).Code);
        using var noBucket = await _s3.GetAsync("/no-such-bucket?tagging");
        Assert.Equal("NoSuchBucket", (await Xml.ErrorAsync(noBucket)).Code);
    }

    [Fact]
    public async Task Bucket_notification_configuration_is_stored_as_given()
    {
        await _s3.CreateBucketAsync("notify");
        using var empty = await _s3.GetAsync("/notify?notification");
        var xml = await Xml.ReadAsync(empty);
        Assert.Equal("NotificationConfiguration", xml.Name.LocalName);
        Assert.Empty(xml.Elements());
        Assert.Null(await _s3.Service.GetNotificationConfigurationAsync("notify"));

        var config = "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><CloudFunctionConfiguration><Id>fn</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration></NotificationConfiguration>";
        using var put = await _s3.PutAsync("/notify?notification", config);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var get = await _s3.GetAsync("/notify?notification");
        Assert.Contains("arn:aws:lambda:us-east-1:000000000000:function:f", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("s3:ObjectCreated:*", await _s3.Service.GetNotificationConfigurationAsync("notify"), StringComparison.Ordinal);

        using var clear = await _s3.PutAsync("/notify?notification", "<NotificationConfiguration/>");
        Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
        Assert.Null(await _s3.Service.GetNotificationConfigurationAsync("notify"));
    }

    [Fact]
    public async Task Unsupported_methods_and_subresources()
    {
        await _s3.CreateBucketAsync("methods");
        using var postRoot = await _s3.SendAsync(HttpMethod.Post, "/");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, postRoot.StatusCode);
        var (code, error) = await Xml.ErrorAsync(postRoot);
        Assert.Equal("MethodNotAllowed", code);
        Assert.Equal("The specified method is not allowed against this resource.", error.Element("Message")!.Value);

        using var patch = await _s3.SendAsync(HttpMethod.Patch, "/methods/key", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, patch.StatusCode);

        using var cors = await _s3.GetAsync("/methods?cors");
        Assert.Equal(HttpStatusCode.NotFound, cors.StatusCode);
        Assert.Equal("NoSuchCORSConfiguration", (await Xml.ErrorAsync(cors)).Code);
        using var policy = await _s3.GetAsync("/methods?policy");
        Assert.Equal("NoSuchBucketPolicy", (await Xml.ErrorAsync(policy)).Code);
        using var deletePolicy = await _s3.SendAsync(HttpMethod.Delete, "/methods?policy");
        Assert.Equal(HttpStatusCode.NoContent, deletePolicy.StatusCode);

        using var putCors = await _s3.PutAsync("/methods?cors", "<CORSConfiguration/>");
        Assert.Equal(HttpStatusCode.NotImplemented, putCors.StatusCode);
        (code, error) = await Xml.ErrorAsync(putCors);
        Assert.Equal("NotImplemented", code);
        Assert.Equal("A header you provided implies functionality that is not implemented", error.Element("Message")!.Value);

        using var acl = await _s3.SendAsync(HttpMethod.Put, "/methods/key?acl", new StringContent("x"));
        Assert.Equal(HttpStatusCode.NotImplemented, acl.StatusCode);
        using var versioning = await _s3.GetAsync("/methods?versioning");
        Assert.Equal(HttpStatusCode.OK, versioning.StatusCode);
        using var getAcl = await _s3.GetAsync("/methods?acl");
        Assert.Equal("FULL_CONTROL", (await Xml.ReadAsync(getAcl)).Descendants(Xml.S3 + "Permission").Single().Value);

        (await _s3.PutAsync("/methods/v1", "x")).Dispose();
        using var versions = await _s3.GetAsync("/methods?versions");
        var version = (await Xml.ReadAsync(versions)).All("Version").Single();
        Assert.Equal("v1", version.Value("Key"));
        Assert.Equal("null", version.Value("VersionId"));
        Assert.Equal("true", version.Value("IsLatest"));
    }
}
