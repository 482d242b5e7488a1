using System.Text.Json;

namespace Millrace.DynamoDb.Tests;

/// <summary>
/// The AWS CLI v2 (`aws dynamodb …`): table lifecycle, conditional writes, updates, its own paging, errors.
/// Each CLI start costs seconds, so independent calls run side by side.
/// </summary>
public sealed class AwsCliDynamoDbTests : DynamoDbServerTestBase
{
    private static string Key(int i) => $$$"""{"leaseKey":{"S":"shardId-{{{i:D12}}}"}}""";

    [Fact]
    public async Task LeaseTableThroughTheCli()
    {
        var table = UniqueName("cli");
        var created = await Aws("create-table", "--table-name", table,
            "--attribute-definitions", "AttributeName=leaseKey,AttributeType=S",
            "--key-schema", "AttributeName=leaseKey,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST");
        Assert.Equal(table, created.GetProperty("TableDescription").GetProperty("TableName").GetString());

        await Task.WhenAll(Enumerable.Range(0, 3).Select(i => Aws("put-item", "--table-name", table,
            "--item", $$$"""{"leaseKey":{"S":"shardId-{{{i:D12}}}"},"leaseCounter":{"N":"0"},"checkpoint":{"S":"TRIM_HORIZON"}}""",
            "--condition-expression", "attribute_not_exists(leaseKey)")));

        var duplicateTask = AwsRaw("put-item", "--table-name", table, "--item", Key(0), "--condition-expression", "attribute_not_exists(leaseKey)");
        var takeTask = Aws("update-item", "--table-name", table, "--key", Key(2),
            "--update-expression", "SET leaseCounter = leaseCounter + :one, leaseOwner = :w ADD ownerSwitchesSinceCheckpoint :one",
            "--condition-expression", "leaseCounter = :c",
            "--expression-attribute-values", """{":one":{"N":"1"},":w":{"S":"worker-1"},":c":{"N":"0"}}""",
            "--return-values", "ALL_NEW");
        var duplicate = await duplicateTask;
        Assert.True(duplicate.ExitCode != 0 && duplicate.StdErr.Contains("ConditionalCheckFailedException", StringComparison.Ordinal), duplicate.ToString());
        Assert.Contains("The conditional request failed", duplicate.StdErr, StringComparison.Ordinal);
        var attributes = (await takeTask).GetProperty("Attributes");
        Assert.Equal("1", attributes.GetProperty("leaseCounter").GetProperty("N").GetString());
        Assert.Equal("worker-1", attributes.GetProperty("leaseOwner").GetProperty("S").GetString());

        var staleTask = AwsRaw("update-item", "--table-name", table, "--key", Key(2),
            "--update-expression", "SET leaseCounter = leaseCounter + :one", "--condition-expression", "leaseCounter = :c",
            "--expression-attribute-values", """{":one":{"N":"1"},":c":{"N":"0"}}""");
        // The CLI follows LastEvaluatedKey itself; --page-size 1 makes it take a page per item.
        var scanTask = Aws("scan", "--table-name", table, "--page-size", "1");
        var missingTask = AwsRaw("describe-table", "--table-name", table + "-missing");
        var badExpressionTask = AwsRaw("update-item", "--table-name", table, "--key", Key(1), "--update-expression", "SET leaseCounter leaseCounter");
        var listTask = Aws("list-tables");

        var stale = await staleTask;
        Assert.True(stale.ExitCode != 0 && stale.StdErr.Contains("ConditionalCheckFailedException", StringComparison.Ordinal), stale.ToString());
        var keys = (await scanTask).GetProperty("Items").EnumerateArray().Select(i => i.GetProperty("leaseKey").GetProperty("S").GetString()).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 3).Select(i => $"shardId-{i:D12}"), keys);
        var missing = await missingTask;
        Assert.True(missing.ExitCode != 0 && missing.StdErr.Contains("ResourceNotFoundException", StringComparison.Ordinal), missing.ToString());
        var badExpression = await badExpressionTask;
        Assert.True(badExpression.ExitCode != 0 && badExpression.StdErr.Contains("ValidationException", StringComparison.Ordinal), badExpression.ToString());
        Assert.Contains("Invalid UpdateExpression: Syntax error", badExpression.StdErr, StringComparison.Ordinal);
        Assert.Contains(table, (await listTask).GetProperty("TableNames").EnumerateArray().Select(n => n.GetString()));

        await Aws("update-item", "--table-name", table, "--key", Key(2),
            "--update-expression", "REMOVE leaseOwner ADD leaseCounter :one", "--condition-expression", "leaseOwner = :w",
            "--expression-attribute-values", """{":one":{"N":"1"},":w":{"S":"worker-1"}}""");
        var item = (await Aws("get-item", "--table-name", table, "--key", Key(2), "--consistent-read")).GetProperty("Item");
        Assert.False(item.TryGetProperty("leaseOwner", out _));
        Assert.Equal("2", item.GetProperty("leaseCounter").GetProperty("N").GetString());

        var deleted = await Aws("delete-table", "--table-name", table);
        Assert.Equal("DELETING", deleted.GetProperty("TableDescription").GetProperty("TableStatus").GetString());
        var gone = await AwsRaw("get-item", "--table-name", table, "--key", Key(1));
        Assert.True(gone.ExitCode != 0 && gone.StdErr.Contains("ResourceNotFoundException", StringComparison.Ordinal), gone.ToString());
    }
}
