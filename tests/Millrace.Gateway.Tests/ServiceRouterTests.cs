using Microsoft.AspNetCore.Http;
using Millrace.Gateway;

namespace Millrace.Gateway.Tests;

/// <summary>How the one endpoint tells services apart, request shape by request shape.</summary>
public sealed class ServiceRouterTests
{
    private static readonly NamedService Kinesis = new("kinesis", new() { TargetPrefixes = ["Kinesis_20131202"], SigningNames = ["kinesis"], DefaultForJsonPosts = true });
    private static readonly NamedService Dynamo = new("dynamodb", new() { TargetPrefixes = ["DynamoDB_20120810"] });
    private static readonly NamedService Lambda = new("lambda", new() { PathPrefixes = ["/2015-03-31/functions", "/2015-03-31/event-source-mappings"] });
    private static readonly NamedService Monitoring = new("monitoring", new() { SmithyServiceNames = ["GraniteServiceVersion20100801"], TargetPrefixes = ["GraniteServiceVersion20100801"] });
    private static readonly NamedService Sts = new("sts", new());
    private static readonly NamedService S3 = new("s3", new() { ObjectStorage = true });

    private static readonly ServiceRouter Router = new([Kinesis, Dynamo, Lambda, Monitoring, Sts, S3]);

    private static HttpRequest Request(string method, string path, string? query = null, string host = "127.0.0.1:4567", params (string Name, string Value)[] headers)
    {
        var http = new DefaultHttpContext();
        var request = http.Request;
        request.Method = method;
        request.Path = path;
        if (query is not null)
        {
            request.QueryString = new QueryString(query);
        }

        request.Host = new HostString(host);
        foreach (var (name, value) in headers)
        {
            request.Headers[name] = value;
        }

        return request;
    }

    private static string? Routed(HttpRequest request) => Router.Route(request)?.Name;

    private static (string, string) SignedFor(string service) =>
        ("Authorization", $"AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc");

    [Theory]
    [InlineData("Kinesis_20131202.PutRecord", "kinesis")]
    [InlineData("DynamoDB_20120810.GetItem", "dynamodb")]
    [InlineData("GraniteServiceVersion20100801.PutMetricData", "monitoring")]
    public void XAmzTargetPrefixPicksTheService(string target, string expected)
    {
        var request = Request("POST", "/", headers: [("X-Amz-Target", target), ("Content-Type", "application/x-amz-json-1.1")]);
        Assert.Equal(expected, Routed(request));
    }

    [Fact]
    public void UnknownTargetOnAJsonPostFallsToKinesisForItsUnknownOperation()
    {
        Assert.Equal("kinesis", Routed(Request("POST", "/", headers: [("X-Amz-Target", "Kinesis_20131202X.Foo"), ("Content-Type", "application/x-amz-json-1.1")])));
        Assert.Equal("kinesis", Routed(Request("POST", "/", headers: [("Content-Type", "application/x-amz-json-1.1")])));
    }

    [Fact]
    public void UnknownTargetOnANonJsonRequestMatchesNothing()
    {
        Assert.Null(Routed(Request("POST", "/", headers: [("X-Amz-Target", "Nope_2020.Foo"), ("Content-Type", "text/plain")])));
    }

    [Fact]
    public void SmithyRpcV2CborPathNamesTheService()
    {
        var request = Request("POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData", headers: [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]);
        Assert.Equal("monitoring", Routed(request));
        Assert.Null(Routed(Request("POST", "/service/Unknown/operation/X", headers: [("smithy-protocol", "rpc-v2-cbor")])));
    }

    [Fact]
    public void SigV4ScopeInTheHeaderOrThePresignedQueryPicksTheService()
    {
        // A query-protocol POST (STS) carries no target and no distinctive path: only its signature says what it is.
        Assert.Equal("sts", Routed(Request("POST", "/", headers: [SignedFor("sts"), ("Content-Type", "application/x-www-form-urlencoded")])));
        Assert.Equal("s3", Routed(Request("GET", "/bucket/key", "?X-Amz-Credential=AKID%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Expires=60")));
        Assert.Equal("dynamodb", Routed(Request("GET", "/", headers: [SignedFor("dynamodb")])));
    }

    [Theory]
    [InlineData("GET", "/2015-03-31/functions", "lambda")]
    [InlineData("POST", "/2015-03-31/functions/my-fn/invocations", "lambda")]
    [InlineData("GET", "/2015-03-31/event-source-mappings/", "lambda")]
    [InlineData("GET", "/2015-03-31/functionsX", "s3")] // a bucket of that name, not Lambda
    public void RestPathPrefixesPickTheirService(string method, string path, string expected)
    {
        Assert.Equal(expected, Routed(Request(method, path)));
    }

    [Theory]
    [InlineData("my-bucket.s3.us-east-1.amazonaws.com")]
    [InlineData("my-bucket.s3.localhost.localstack.cloud:4567")]
    [InlineData("my-bucket.localhost:4567")]
    [InlineData("my-bucket.s3.localhost:4567")]
    public void VirtualHostedBucketsGoToS3(string host)
    {
        Assert.Equal("s3", Routed(Request("POST", "/key", host: host, headers: [("Content-Type", "text/plain")])));
        Assert.Equal("my-bucket", VirtualHost.BucketOf(new HostString(host).Host));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    [InlineData("s3.us-east-1.amazonaws.com")]
    public void PlainHostsNameNoBucket(string host)
    {
        Assert.Null(VirtualHost.BucketOf(host));
    }

    [Theory]
    [InlineData("GET", "/", null)]
    [InlineData("PUT", "/bucket", null)]
    [InlineData("HEAD", "/bucket/key", null)]
    [InlineData("DELETE", "/bucket/key", null)]
    [InlineData("POST", "/bucket/key", "?uploads")]
    [InlineData("POST", "/bucket", "?delete")]
    public void UnsignedRestVerbsArePathStyleS3(string method, string path, string? query)
    {
        Assert.Equal("s3", Routed(Request(method, path, query)));
    }

    [Fact]
    public void APlainFormPostMatchesNothing()
    {
        Assert.Null(Routed(Request("POST", "/", headers: [("Content-Type", "application/x-www-form-urlencoded")])));
    }

    [Fact]
    public async Task FrontDoorErrorsAreAwsShapedNever500()
    {
        var endpoint = new GatewayEndpoint(new ServiceRouter([Sts]));

        var http = new DefaultHttpContext();
        http.Request.Method = "POST";
        http.Request.Path = "/";
        http.Request.Headers["X-Amz-Target"] = "Firehose_20150804.PutRecord";
        http.Request.ContentType = "application/x-amz-json-1.1";
        http.Response.Body = new MemoryStream();
        await endpoint.HandleAsync(http);
        Assert.Equal(400, http.Response.StatusCode);
        Assert.Contains("UnknownOperationException", Body(http), StringComparison.Ordinal);

        http = new DefaultHttpContext();
        http.Request.Method = "GET";
        http.Request.Path = "/anything";
        http.Response.Body = new MemoryStream();
        await endpoint.HandleAsync(http);
        Assert.Equal(403, http.Response.StatusCode);
        Assert.Contains("<AccessDeniedException>", Body(http), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(http.Response.Headers["x-amzn-RequestId"]));
    }

    private static string Body(HttpContext http) => System.Text.Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());
}
