using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Millrace.DynamoDb.Tests;

/// <summary>The DynamoDB JSON 1.0 wire as DynamoDB answers it: content type, error bodies and types, bad requests.</summary>
public sealed class WireTests : IAsyncLifetime
{
    private MillraceProcess? _server;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task<(int Status, string ContentType, string Body)> PostAsync(string target, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.0");
        using var request = new HttpRequestMessage(HttpMethod.Post, _server!.DynamoDbEndpoint) { Content = content };
        request.Headers.Add("X-Amz-Target", target);
        using var response = await _http.SendAsync(request);
        return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType ?? "", await response.Content.ReadAsStringAsync());
    }

    private static string Type(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("__type").GetString()!;
    }

    [Fact]
    public async Task ErrorsAreDynamoDbsShapes()
    {
        var (status, contentType, body) = await PostAsync("DynamoDB_20120810.CreateTable", """
            {"TableName":"wire","AttributeDefinitions":[{"AttributeName":"leaseKey","AttributeType":"S"}],
             "KeySchema":[{"AttributeName":"leaseKey","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}
            """);
        Assert.True(status == 200, body);
        Assert.Equal("application/x-amz-json-1.0", contentType);

        const string put = """{"TableName":"wire","Item":{"leaseKey":{"S":"a"}},"ConditionExpression":"attribute_not_exists(leaseKey)"}""";
        Assert.Equal(200, (await PostAsync("DynamoDB_20120810.PutItem", put)).Status);
        (status, contentType, body) = await PostAsync("DynamoDB_20120810.PutItem", put);
        Assert.Equal(400, status);
        Assert.Equal("application/x-amz-json-1.0", contentType);
        Assert.Equal("""{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}""", body);

        (status, _, body) = await PostAsync("DynamoDB_20120810.GetItem", """{"TableName":"absent","Key":{"leaseKey":{"S":"a"}}}""");
        Assert.Equal(400, status);
        Assert.Equal("com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", Type(body));

        (status, _, body) = await PostAsync("DynamoDB_20120810.PutItem", """{"TableName":"wire","Item":{"leaseKey":{}}}""");
        Assert.Equal(400, status);
        Assert.Equal("com.amazon.coral.validate#ValidationException", Type(body));
        Assert.Contains("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes", body, StringComparison.Ordinal);

        (status, _, body) = await PostAsync("DynamoDB_20120810.PutItem", """{"TableName":"wire","Item":{"leaseKey":{"S":"a","N":"1"}}}""");
        Assert.Equal(400, status);
        Assert.Contains("Supplied AttributeValue has more than one datatypes set", body, StringComparison.Ordinal);

        (status, _, body) = await PostAsync("DynamoDB_20120810.ListTables", "not json");
        Assert.Equal(400, status);
        Assert.Equal("com.amazon.coral.service#SerializationException", Type(body));

        (status, _, body) = await PostAsync("DynamoDB_20120810.NoSuchOperation", "{}");
        Assert.Equal(400, status);
        Assert.Equal("com.amazon.coral.service#UnknownOperationException", Type(body));

        (status, _, body) = await PostAsync("DynamoDB_20120810.CreateTable", """{"TableName":"x","KeySchema":[],"AttributeDefinitions":[]}""");
        Assert.Equal(400, status);
        Assert.Contains("Member must have length greater than or equal to 3", body, StringComparison.Ordinal);

        // On the one endpoint a GET is told from S3's ListBuckets by its SigV4 scope, as AWS's front door tells them apart.
        using var probe = new HttpRequestMessage(HttpMethod.Get, _server!.DynamoDbEndpoint);
        probe.Headers.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDMILLRACETEST/20261206/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00");
        using var health = await _http.SendAsync(probe);
        Assert.Equal(200, (int)health.StatusCode);
        Assert.StartsWith("healthy:", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
