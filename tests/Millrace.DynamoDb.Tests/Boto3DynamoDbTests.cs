namespace Millrace.DynamoDb.Tests;

/// <summary>boto3's DynamoDB client: the KCL-style lease flow, paging, the GSI, a composite-key table and errors
/// (tests/clients/python/dynamodb_boto3.py).</summary>
public sealed class Boto3DynamoDbTests : DynamoDbServerTestBase
{
    [Fact]
    public async Task LeaseTableFlowPagingIndexesAndErrors()
    {
        var result = await ExternalTool.RunAsync(
            "python3",
            [ClientPath("python", "dynamodb_boto3.py"), Server.DynamoDbEndpoint, UniqueName("ddb")],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(90));
        RequireSuccess(result, "python3 dynamodb_boto3.py");
        var summary = Summary(result, "dynamodb_boto3.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 250, context);
        Assert.True(summary.GetProperty("scan_pages").GetInt32() >= 5, context);
        var errors = summary.GetProperty("errors");
        Assert.True(errors.GetProperty("duplicate_lease").GetString() == "ConditionalCheckFailedException", context);
        Assert.True(errors.GetProperty("lost_race").GetString() == "ConditionalCheckFailedException", context);
        Assert.True(errors.GetProperty("missing_table").GetString() == "ResourceNotFoundException", context);
        Assert.True(errors.GetProperty("syntax").GetString() == "ValidationException", context);
        var gsi = summary.GetProperty("gsi");
        Assert.True(gsi.EnumerateObject().Sum(p => p.Value.GetInt32()) == 29, context);
    }
}
