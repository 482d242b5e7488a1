using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Millrace.DynamoDb.Tests;

/// <summary>
/// Lease tables are stored as durably as stream data: every acknowledged write survives SIGKILL, and everything
/// survives a clean restart. Speaks the DynamoDB JSON 1.0 wire directly (as every SDK does) so the kill can land
/// while writes are in flight.
/// </summary>
public sealed class DurabilityTests : IAsyncLifetime
{
    private MillraceProcess? _server;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };

    private MillraceProcess Server => _server!;

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private async Task<(int Status, JsonElement Body)> CallAsync(string operation, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.0");
        using var request = new HttpRequestMessage(HttpMethod.Post, Server.DynamoDbEndpoint) { Content = content };
        request.Headers.Add("X-Amz-Target", "DynamoDB_20120810." + operation);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return ((int)response.StatusCode, doc.RootElement.Clone());
    }

    private async Task<JsonElement> OkAsync(string operation, string json)
    {
        var (status, body) = await CallAsync(operation, json);
        Assert.True(status == 200, $"{operation}: {status} {body}");
        return body;
    }

    private async Task<Dictionary<string, JsonElement>> ScanAllAsync(string table)
    {
        var items = new Dictionary<string, JsonElement>();
        string? start = null;
        for (int page = 0; page < 100; page++)
        {
            var body = await OkAsync("Scan", start is null ? $$$"""{"TableName":"{{{table}}}","Limit":100}""" : $$$"""{"TableName":"{{{table}}}","Limit":100,"ExclusiveStartKey":{{{start}}}}""");
            foreach (var item in body.GetProperty("Items").EnumerateArray())
            {
                items[item.GetProperty("leaseKey").GetProperty("S").GetString()!] = item;
            }

            if (!body.TryGetProperty("LastEvaluatedKey", out var last))
            {
                return items;
            }

            start = last.GetRawText();
        }

        throw new InvalidOperationException("scan did not end");
    }

    [Fact]
    public async Task AcknowledgedWritesSurviveSigkillAndItemsSurviveACleanRestart()
    {
        const string table = "durable-leases";
        await OkAsync("CreateTable", $$$"""
            {"TableName":"{{{table}}}","AttributeDefinitions":[{"AttributeName":"leaseKey","AttributeType":"S"}],
             "KeySchema":[{"AttributeName":"leaseKey","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}
            """);
        await OkAsync("PutItem", $$$"""{"TableName":"{{{table}}}","Item":{"leaseKey":{"S":"counter"},"leaseCounter":{"N":"0"} } }""");

        // Writers: new leases (conditional puts) and conditional counter bumps, until the server dies.
        var acknowledgedPuts = new ConcurrentBag<string>();
        long acknowledgedBumps = 0;
        long attemptedBumps = 0;
        using var enough = new SemaphoreSlim(0);
        async Task PutWriter(int writer)
        {
            for (int i = 0; i < 400; i++)
            {
                var key = $"w{writer}-{i:D4}";
                try
                {
                    var (status, body) = await CallAsync("PutItem", $$$"""
                        {"TableName":"{{{table}}}","Item":{"leaseKey":{"S":"{{{key}}}"},"leaseCounter":{"N":"{{{i}}}"},"parentShardId":{"SS":["p-{{{i}}}"]}},
                         "ConditionExpression":"attribute_not_exists(leaseKey)"}
                        """);
                    Assert.True(status == 200, body.ToString());
                    acknowledgedPuts.Add(key);
                    if (acknowledgedPuts.Count == 120)
                    {
                        enough.Release();
                    }
                }
                catch (HttpRequestException)
                {
                    return; // the server was killed
                }
                catch (TaskCanceledException)
                {
                    return;
                }
            }
        }

        async Task BumpWriter()
        {
            for (int i = 0; i < 400; i++)
            {
                try
                {
                    Interlocked.Increment(ref attemptedBumps);
                    var (status, body) = await CallAsync("UpdateItem", $$$"""
                        {"TableName":"{{{table}}}","Key":{"leaseKey":{"S":"counter"}},"UpdateExpression":"ADD leaseCounter :one",
                         "ConditionExpression":"attribute_exists(leaseKey)","ExpressionAttributeValues":{":one":{"N":"1"} } }
                        """);
                    Assert.True(status == 200, body.ToString());
                    Interlocked.Increment(ref acknowledgedBumps);
                }
                catch (HttpRequestException)
                {
                    return;
                }
                catch (TaskCanceledException)
                {
                    return;
                }
            }
        }

        var writers = Enumerable.Range(0, 3).Select(PutWriter).Append(BumpWriter()).ToList();
        var finished = Task.WhenAll(writers);
        await Task.WhenAny(enough.WaitAsync(TimeSpan.FromSeconds(60)), finished);
        Server.Kill();
        await finished;
        var puts = acknowledgedPuts.ToHashSet();
        long bumps = Interlocked.Read(ref acknowledgedBumps);
        Assert.True(puts.Count >= 120, $"only {puts.Count} puts were acknowledged before the kill");

        await Server.RestartAsync();
        var items = await ScanAllAsync(table);
        var lost = puts.Where(k => !items.ContainsKey(k)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged puts lost after SIGKILL, e.g. {string.Join(", ", lost.Take(5))}");
        foreach (var key in puts)
        {
            var item = items[key];
            Assert.Equal(key.Split('-')[1].TrimStart('0') is { Length: > 0 } n ? n : "0", item.GetProperty("leaseCounter").GetProperty("N").GetString());
        }

        long counter = long.Parse(items["counter"].GetProperty("leaseCounter").GetProperty("N").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(counter >= bumps && counter <= Interlocked.Read(ref attemptedBumps), $"counter {counter}, acknowledged {bumps}, attempted {attemptedBumps}");

        // A clean restart keeps the table, its description and every item.
        Assert.Equal(0, await Server.StopAsync());
        await Server.RestartAsync();
        var described = await OkAsync("DescribeTable", $$$"""{"TableName":"{{{table}}}"}""");
        Assert.Equal("ACTIVE", described.GetProperty("Table").GetProperty("TableStatus").GetString());
        Assert.Equal(items.Count, described.GetProperty("Table").GetProperty("ItemCount").GetInt32());
        var again = await ScanAllAsync(table);
        Assert.Equal(items.Keys.Order(), again.Keys.Order());
        Assert.Equal(counter.ToString(System.Globalization.CultureInfo.InvariantCulture), again["counter"].GetProperty("leaseCounter").GetProperty("N").GetString());
    }
}
