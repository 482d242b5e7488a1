using System.Globalization;
using System.Net;

namespace Millrace.S3.Tests;

public sealed class PresignTests : IAsyncLifetime
{
    private S3TestServer _s3 = null!;

    public async Task InitializeAsync()
    {
        _s3 = await S3TestServer.StartAsync();
        _s3.Clock.Now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        await _s3.CreateBucketAsync("presign");
        (await _s3.PutAsync("/presign/obj", "presigned body")).Dispose();
    }

    public async Task DisposeAsync() => await _s3.DisposeAsync();

    private static string Query(DateTimeOffset signedAt, string expires) =>
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260301%2Fus-east-1%2Fs3%2Faws4_request"
        + "&X-Amz-Date=" + signedAt.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)
        + "&X-Amz-Expires=" + expires + "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + new string('0', 64);

    [Fact]
    public async Task Valid_presigned_get_and_put()
    {
        var now = _s3.Clock.Now;
        using var get = await _s3.GetAsync("/presign/obj?" + Query(now.AddSeconds(-30), "60"));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("presigned body", await get.Content.ReadAsStringAsync());

        using var put = await _s3.PutAsync("/presign/new?" + Query(now, "3600"), "uploaded");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var back = await _s3.GetAsync("/presign/new");
        Assert.Equal("uploaded", await back.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Expired_presigned_url_is_access_denied()
    {
        var now = _s3.Clock.Now;
        using var response = await _s3.GetAsync("/presign/obj?" + Query(now.AddSeconds(-61), "60"));
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var (code, error) = await Xml.ErrorAsync(response);
        Assert.Equal("AccessDenied", code);
        Assert.Equal("Request has expired", error.Element("Message")!.Value);
        Assert.Equal("2026-03-01T11:59:59Z", error.Element("Expires")!.Value);
        Assert.Equal("2026-03-01T12:00:00Z", error.Element("ServerTime")!.Value);
        Assert.Equal("60", error.Element("X-Amz-Expires")!.Value);

        // The same URL was fine before the clock moved on.
        _s3.Clock.Now = now.AddSeconds(-2);
        using var earlier = await _s3.GetAsync("/presign/obj?" + Query(now.AddSeconds(-61), "60"));
        Assert.Equal(HttpStatusCode.OK, earlier.StatusCode);
    }

    [Theory]
    [InlineData("604801")]
    [InlineData("-1")]
    [InlineData("abc")]
    public async Task Bad_expires_is_an_authorization_query_parameters_error(string expires)
    {
        using var response = await _s3.GetAsync("/presign/obj?" + Query(_s3.Clock.Now, expires));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("AuthorizationQueryParametersError", (await Xml.ErrorAsync(response)).Code);
    }

    [Fact]
    public async Task Missing_presign_parameters()
    {
        using var response = await _s3.GetAsync("/presign/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("AuthorizationQueryParametersError", (await Xml.ErrorAsync(response)).Code);
    }

    [Fact]
    public async Task Presign_parameters_are_not_sub_resources()
    {
        // A presigned ListObjectsV2 and a presigned DELETE route to the same operations as unsigned ones.
        using var list = await _s3.GetAsync("/presign?list-type=2&" + Query(_s3.Clock.Now, "60"));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal("ListBucketResult", (await Xml.ReadAsync(list)).Name.LocalName);
    }
}
