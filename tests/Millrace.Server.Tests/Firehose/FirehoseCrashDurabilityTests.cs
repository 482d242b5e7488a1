using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Millrace.Server.Tests.Firehose;

/// <summary>
/// Firehose across kill -9: two writers put batches of unique records (PutRecordBatch over raw JSON 1.1) into a
/// delivery stream writing to S3 every second; the server is SIGKILLed while records are being put and delivered,
/// then restarted on the same data directory. Every acknowledged record must reach S3 at least once; the duplicate
/// rate (a batch delivered but not yet checkpointed is delivered again) is reported.
/// </summary>
public sealed partial class FirehoseCrashDurabilityTests(ITestOutputHelper output)
{
    private const int Writers = 2;
    private const int BatchesPerWriter = 400;
    private const int RecordsPerBatch = 100;

    [Fact]
    public async Task AcknowledgedRecordsAreDeliveredAtLeastOnceAfterSigkill()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var bucket = "fhcrash-" + Guid.NewGuid().ToString("N")[..8];
        var stream = "crash-" + Guid.NewGuid().ToString("N")[..8];
        (await http.PutAsync($"{server.Endpoint}/{bucket}", null)).EnsureSuccessStatusCode();
        await CallAsync(http, server.Endpoint, "CreateDeliveryStream", new
        {
            DeliveryStreamName = stream,
            ExtendedS3DestinationConfiguration = new
            {
                RoleARN = "arn:aws:iam::000000000000:role/firehose",
                BucketARN = "arn:aws:s3:::" + bucket,
                Prefix = "crash/",
                BufferingHints = new { SizeInMBs = 1, IntervalInSeconds = 1 },
            },
        });

        var acknowledged = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var b = 0; b < BatchesPerWriter && !stop.IsCancellationRequested; b++)
            {
                var ids = Enumerable.Range(0, RecordsPerBatch).Select(i => $"w{w}-b{b:000}-r{i:000}").ToList();
                try
                {
                    var answer = await CallAsync(http, server.Endpoint, "PutRecordBatch", new
                    {
                        DeliveryStreamName = stream,
                        Records = ids.Select(id => new { Data = Convert.ToBase64String(Encoding.UTF8.GetBytes(id + "\n")) }),
                    }, stop.Token);
                    if (answer.GetProperty("FailedPutCount").GetInt32() == 0)
                    {
                        foreach (var id in ids)
                        {
                            acknowledged[id] = true;
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
                {
                    return; // cut off by the kill: this batch was not acknowledged
                }
            }
        })).ToList();

        // Kill while writes go on and some objects were already delivered (bounded wait).
        for (var i = 0; i < 600 && (await KeysAsync(http, server.Endpoint, bucket)).Count < 3 && !writers.All(t => t.IsCompleted); i++)
        {
            await Task.Delay(50);
        }

        server.Kill();
        await Task.WhenAll(writers);
        Assert.True(acknowledged.Count > 0, "no batch was acknowledged before the kill");

        await using var restarted = await MillraceProcess.StartInAsync(server.DataDirectory);
        var delivered = new Dictionary<string, int>(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        List<string> missing;
        do
        {
            await Task.Delay(500);
            delivered.Clear();
            foreach (var key in await KeysAsync(http, restarted.Endpoint, bucket))
            {
                var body = await http.GetStringAsync($"{restarted.Endpoint}/{bucket}/{key}");
                foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    delivered[line] = delivered.GetValueOrDefault(line) + 1;
                }
            }

            missing = acknowledged.Keys.Where(id => !delivered.ContainsKey(id)).ToList();
        }
        while (missing.Count > 0 && DateTime.UtcNow < deadline);

        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged records were not delivered, e.g. {string.Join(", ", missing.Take(5))}");
        var duplicates = delivered.Values.Sum(n => n - 1);
        output.WriteLine($"acknowledged {acknowledged.Count}, delivered {delivered.Values.Sum()} lines, duplicates {duplicates} ({100.0 * duplicates / acknowledged.Count:F2}%)");
        Assert.All(delivered.Keys, line => Assert.Matches(RecordId(), line));
    }

    private static async Task<JsonElement> CallAsync(HttpClient http, string endpoint, string operation, object body, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint + "/")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        request.Headers.Add("X-Amz-Target", "Firehose_20150804." + operation);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode, $"{operation}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<List<string>> KeysAsync(HttpClient http, string endpoint, string bucket)
    {
        var xml = await http.GetStringAsync($"{endpoint}/{bucket}?list-type=2");
        return [.. KeyElement().Matches(xml).Select(m => m.Groups[1].Value)];
    }

    [GeneratedRegex("<Key>([^<]+)</Key>")]
    private static partial Regex KeyElement();

    [GeneratedRegex(@"^w\d-b\d{3}-r\d{3}$")]
    private static partial Regex RecordId();
}
