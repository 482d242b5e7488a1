using System.Net;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Wire;

/// <summary>The AWS JSON 1.1 envelope: status codes, error shapes, headers, HTTP versions, authentication.</summary>
public sealed class WireProtocolTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task EveryResponseCarriesARequestId()
    {
        using var client = fixture.NewClient();
        var ok = await client.CallAsync("ListStreams", new { });
        var error = await client.CallAsync("DescribeStreamSummary", new { StreamName = "does-not-exist" });
        foreach (var response in new[] { ok, error })
        {
            Assert.True(response.Message.Headers.TryGetValues("x-amzn-RequestId", out var ids), response.ToString());
            Assert.True(Guid.TryParse(ids.Single(), out _));
            Assert.Equal("application/x-amz-json-1.1", response.Message.Content.Headers.ContentType?.MediaType);
        }
    }

    [Fact]
    public async Task MissingStreamIsResourceNotFoundWithAwsWording()
    {
        using var client = fixture.NewClient();
        var response = await client.CallAsync("DescribeStreamSummary", new { StreamName = "does-not-exist" });
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("ResourceNotFoundException", response.ErrorType);
        Assert.Equal("Stream does-not-exist under account 000000000000 not found.", response.ErrorMessage);
    }

    [Fact]
    public async Task UnknownOperationIsUnknownOperationException()
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("NoSuchThing", "{}");
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("UnknownOperationException", response.ErrorType);

        var wrongService = await client.SendRawAsync(null, "{}");
        Assert.Equal("UnknownOperationException", wrongService.ErrorType);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("{\"StreamName\":")]
    public async Task UnreadableBodyIsSerializationException(string body)
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("ListStreams", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("SerializationException", response.ErrorType);
    }

    [Fact]
    public async Task EmptyBodyIsSerializationException()
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("ListStreams", "");
        Assert.Equal("SerializationException", response.ErrorType);
    }

    [Fact]
    public async Task WrongJsonTypeIsSerializationException()
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("CreateStream", "{\"StreamName\":\"x\",\"ShardCount\":\"two\"}");
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("SerializationException", response.ErrorType);
    }

    [Fact]
    public async Task MissingAuthorizationIsMissingAuthenticationToken()
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("ListStreams", "{}", signed: false);
        Assert.Equal(HttpStatusCode.BadRequest, response.Status);
        Assert.Equal("MissingAuthenticationTokenException", response.ErrorType);
        Assert.Equal("Missing Authentication Token", response.ErrorMessage);
    }

    [Fact]
    public async Task MalformedAuthorizationIsIncompleteSignature()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Endpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("{}") };
        request.Content.Headers.ContentType = new("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202.ListStreams");
        request.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Signature=abc");
        var response = await http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("IncompleteSignatureException", body["__type"]!.GetValue<string>());
        Assert.Contains("Authorization header requires 'Credential' parameter.", body["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task NonPostIsAccessDenied()
    {
        using var client = fixture.NewClient();
        var response = await client.SendRawAsync("ListStreams", null, method: "GET");
        Assert.Equal(HttpStatusCode.Forbidden, response.Status);
        Assert.Contains("AccessDeniedException", response.Body);
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        using var client = fixture.NewClient();
        var huge = "{\"StreamName\":\"x\",\"Data\":\"" + new string('A', 21 * 1024 * 1024) + "\"}";
        var response = await client.SendRawAsync("PutRecord", huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
    }

    [Fact]
    public async Task Http2PriorKnowledgeAndHttp11ShareThePort()
    {
        using var h2 = fixture.NewClient(HttpVersion.Version20);
        using var h1 = fixture.NewClient(HttpVersion.Version11);
        var name = ServerFixture.UniqueName("h2");
        var created = await h2.CallAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal(HttpStatusCode.OK, created.Status);
        Assert.Equal(new Version(2, 0), created.Message.Version);
        var summary = await h1.CallAsync("DescribeStreamSummary", new { StreamName = name });
        Assert.Equal(HttpStatusCode.OK, summary.Status);
        Assert.Equal(new Version(1, 1), summary.Message.Version);

        // Many concurrent calls multiplexed on one HTTP/2 connection.
        var puts = Enumerable.Range(0, 50).Select(i => h2.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "k" + i, Data = Convert.ToBase64String(new byte[] { (byte)i }) }));
        foreach (var put in await Task.WhenAll(puts))
        {
            Assert.Equal(HttpStatusCode.OK, put.Status);
        }
    }

    [Fact]
    public async Task OperationWithoutOutputReturnsEmptyBody()
    {
        using var client = fixture.NewClient();
        var response = await client.CallAsync("CreateStream", new { StreamName = ServerFixture.UniqueName("empty"), ShardCount = 1 });
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.Equal("", response.Body);
    }
}
