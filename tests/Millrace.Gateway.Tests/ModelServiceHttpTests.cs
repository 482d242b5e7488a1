using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Gateway;

namespace Millrace.Gateway.Tests;

/// <summary>Model-driven services over plain HTTP: routes, unknown operations, compressed bodies, request ids.</summary>
public sealed class ModelServiceHttpTests
{
    [Fact]
    public void RoutesComeFromTheModel()
    {
        var cw = ModelService.RoutesOf(Millrace.Protocol.Models.ServiceModel.Get("cloudwatch"));
        Assert.Equal(["GraniteServiceVersion20100801"], cw.TargetPrefixes);
        Assert.Equal(["GraniteServiceVersion20100801"], cw.SmithyServiceNames);
        Assert.Equal(["monitoring"], cw.SigningNames);
        Assert.Empty(cw.PathPrefixes);

        var lambda = ModelService.RoutesOf(Millrace.Protocol.Models.ServiceModel.Get("lambda"));
        Assert.Empty(lambda.TargetPrefixes);
        Assert.Contains("/2015-03-31/functions", lambda.PathPrefixes);
        Assert.Contains("/2017-03-31/tags", lambda.PathPrefixes);
        Assert.DoesNotContain(lambda.PathPrefixes, p => p.StartsWith("/2015-03-31/functions/", StringComparison.Ordinal));

        var sts = ModelService.RoutesOf(Millrace.Protocol.Models.ServiceModel.Get("sts"));
        Assert.Equal(["sts"], sts.SigningNames);
        Assert.Empty(sts.TargetPrefixes);

        Assert.Throws<ArgumentException>(() => new ModelService("sts").On("NoSuchOperation", (_, _) => null));
    }

    [Fact]
    public async Task JsonUnknownOperationQueryInvalidActionAndGzip()
    {
        await using var gateway = await TestGateway.StartAsync(TestServices.Sts(), TestServices.CloudWatch());
        using var http = new HttpClient { BaseAddress = gateway.Endpoint };

        using var unknown = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("{}", Encoding.UTF8) };
        unknown.Content.Headers.ContentType = new("application/x-amz-json-1.0");
        unknown.Headers.Add("X-Amz-Target", "GraniteServiceVersion20100801.NoSuchThing");
        using var unknownResponse = await http.SendAsync(unknown);
        Assert.Equal(HttpStatusCode.BadRequest, unknownResponse.StatusCode);
        Assert.Equal("""{"__type":"UnknownOperationException"}""", await unknownResponse.Content.ReadAsStringAsync());
        Assert.Equal("application/x-amz-json-1.0", unknownResponse.Content.Headers.ContentType!.MediaType);
        Assert.True(unknownResponse.Headers.Contains("x-amzn-RequestId"));

        // Query by signing name (the STS credential scope), unknown action.
        using var query = new HttpRequestMessage(HttpMethod.Post, "/")
        {
            Content = new StringContent("Action=Frobnicate&Version=2011-06-15", Encoding.UTF8, "application/x-www-form-urlencoded"),
        };
        query.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00");
        using var queryResponse = await http.SendAsync(query);
        Assert.Equal(HttpStatusCode.BadRequest, queryResponse.StatusCode);
        var xml = await queryResponse.Content.ReadAsStringAsync();
        Assert.Contains("<Code>InvalidAction</Code><Message>Could not find operation Frobnicate for version 2011-06-15</Message>", xml);

        // A gzip body (CloudWatch's PutMetricData request compression), then the metric is listed.
        var json = """{"Namespace":"Z","MetricData":[{"MetricName":"gz","Value":1}]}""";
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(json));
        }

        using var put = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(compressed.ToArray()) };
        put.Content.Headers.ContentType = new("application/x-amz-json-1.0");
        put.Content.Headers.ContentEncoding.Add("gzip");
        put.Headers.Add("X-Amz-Target", "GraniteServiceVersion20100801.PutMetricData");
        using var putResponse = await http.SendAsync(put);
        Assert.Equal(HttpStatusCode.OK, putResponse.StatusCode);

        using var list = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("""{"Namespace":"Z"}""") };
        list.Content.Headers.ContentType = new("application/x-amz-json-1.0");
        list.Headers.Add("X-Amz-Target", "GraniteServiceVersion20100801.ListMetrics");
        using var listResponse = await http.SendAsync(list);
        var metrics = JsonNode.Parse(await listResponse.Content.ReadAsStringAsync())!["Metrics"]!.AsArray();
        Assert.Equal("gz", metrics.Single()!["MetricName"]!.GetValue<string>());
    }
}
