using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Assertions on AWS error responses: exception type, HTTP status and message pattern.</summary>
internal static class ControlPlaneAssert
{
    public const string Account = "000000000000";

    public static string Arn(string stream) => $"arn:aws:kinesis:us-east-1:{Account}:stream/{stream}";

    public static async Task<KinesisJsonClient.Response> ErrorAsync(
        KinesisJsonClient client, string operation, object body, string type, string messagePattern)
    {
        var response = await client.CallAsync(operation, body);
        Assert.True(response.Status == HttpStatusCode.BadRequest, $"{operation}: expected 400 {type}, got {response}");
        Assert.True(response.ErrorType == type, $"{operation}: expected {type}, got {response}");
        Assert.True(Regex.IsMatch(response.ErrorMessage ?? "", messagePattern), $"{operation}: message '{response.ErrorMessage}' does not match '{messagePattern}'");
        return response;
    }

    public static async Task<JsonNode> SummaryAsync(KinesisJsonClient client, string stream) =>
        (await client.OkAsync("DescribeStreamSummary", new { StreamName = stream }))["StreamDescriptionSummary"]!;

    public static string[] Strings(JsonNode? array) => array!.AsArray().Select(n => n!.GetValue<string>()).ToArray();
}
