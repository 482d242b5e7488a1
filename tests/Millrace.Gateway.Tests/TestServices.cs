using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Millrace.Gateway;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway.Tests;

/// <summary>A real Kestrel on 127.0.0.1:0 serving the given services through ServiceRouter and GatewayEndpoint.</summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestGateway(WebApplication app, Uri endpoint)
    {
        _app = app;
        Endpoint = endpoint;
    }

    public Uri Endpoint { get; }

    public static async Task<TestGateway> StartAsync(params IAwsService[] services)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, 0);
        });
        var app = builder.Build();
        var gateway = new GatewayEndpoint(new ServiceRouter(services));
        app.Run(gateway.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestGateway(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Tiny services declared only for the tests: just handlers over in-memory state.</summary>
public static class TestServices
{
    public const string Account = "123456789012";

    /// <summary>STS (query protocol): GetCallerIdentity and AssumeRole.</summary>
    public static ModelService Sts() => new ModelService("sts")
        .On("GetCallerIdentity", (_, _) => new JsonObject
        {
            ["UserId"] = "AKIDMILLRACETEST",
            ["Account"] = Account,
            ["Arn"] = $"arn:aws:iam::{Account}:user/millrace",
        })
        .On("AssumeRole", (input, _) => new JsonObject
        {
            ["Credentials"] = new JsonObject
            {
                ["AccessKeyId"] = "ASIAMILLRACE0000001",
                ["SecretAccessKey"] = "secret",
                ["SessionToken"] = "token",
                ["Expiration"] = ModelDocument.Timestamp(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero)
                    .AddSeconds(ModelDocument.GetInt64(input["DurationSeconds"]) ?? 3600)),
            },
            ["AssumedRoleUser"] = new JsonObject
            {
                ["AssumedRoleId"] = "AROAMILLRACE:" + ModelDocument.GetString(input["RoleSessionName"]),
                ["Arn"] = ModelDocument.GetString(input["RoleArn"]) + "/" + ModelDocument.GetString(input["RoleSessionName"]),
            },
        });

    /// <summary>CloudWatch (rpc-v2-cbor, json 1.0 and query): PutMetricData, ListMetrics, GetMetricStatistics over a list.</summary>
    public static ModelService CloudWatch(ICollection<string>? protocolsSeen = null)
    {
        var data = new List<(string Namespace, string Name, string Dimensions, DateTimeOffset Time, double Value, string? Unit)>();
        var gate = new Lock();
        static string Key(JsonNode? dims) => string.Join(",", (dims as JsonArray ?? [])
            .Select(d => ModelDocument.GetString(d!["Name"]) + "=" + ModelDocument.GetString(d["Value"])).Order(StringComparer.Ordinal));
        static JsonArray Dims(string key) => [.. key.Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => (JsonNode)new JsonObject { ["Name"] = p[..p.IndexOf('=')], ["Value"] = p[(p.IndexOf('=') + 1)..] })];

        return new ModelService("cloudwatch")
            .On("PutMetricData", (input, ctx) =>
            {
                lock (gate)
                {
                    protocolsSeen?.Add(ctx.Protocol);
                }

                var ns = ModelDocument.GetString(input["Namespace"])!;
                lock (gate)
                {
                    foreach (var datum in input["MetricData"] as JsonArray ?? [])
                    {
                        data.Add((ns, ModelDocument.GetString(datum!["MetricName"])!, Key(datum["Dimensions"]),
                            ModelDocument.GetTimestamp(datum["Timestamp"]) ?? DateTimeOffset.UtcNow, ModelDocument.GetDouble(datum["Value"]) ?? 0,
                            ModelDocument.GetString(datum["Unit"])));
                    }
                }

                return null;
            })
            .On("ListMetrics", (input, _) =>
            {
                var ns = ModelDocument.GetString(input["Namespace"]);
                var name = ModelDocument.GetString(input["MetricName"]);
                var filters = (input["Dimensions"] as JsonArray ?? []).Select(f => (ModelDocument.GetString(f!["Name"])!, ModelDocument.GetString(f["Value"]))).ToList();
                lock (gate)
                {
                    var metrics = data
                        .Where(d => (ns is null || d.Namespace == ns) && (name is null || d.Name == name))
                        .Where(d => filters.All(f => d.Dimensions.Split(',').Any(p => f.Item2 is null ? p.StartsWith(f.Item1 + "=", StringComparison.Ordinal) : p == f.Item1 + "=" + f.Item2)))
                        .Select(d => (d.Namespace, d.Name, d.Dimensions)).Distinct().OrderBy(d => d.Name, StringComparer.Ordinal)
                        .Select(d => (JsonNode)new JsonObject { ["Namespace"] = d.Namespace, ["MetricName"] = d.Name, ["Dimensions"] = Dims(d.Dimensions) });
                    return new JsonObject { ["Metrics"] = new JsonArray([.. metrics]) };
                }
            })
            .On("GetMetricStatistics", (input, _) =>
            {
                var start = ModelDocument.GetTimestamp(input["StartTime"])!.Value;
                var end = ModelDocument.GetTimestamp(input["EndTime"])!.Value;
                if (end <= start)
                {
                    throw new ServiceException("InvalidParameterValue", "The parameter StartTime must be less than the parameter EndTime.");
                }

                var period = ModelDocument.GetInt64(input["Period"])!.Value;
                var key = Key(input["Dimensions"]);
                var stats = (input["Statistics"] as JsonArray ?? []).Select(s => ModelDocument.GetString(s)!).ToHashSet();
                List<(DateTimeOffset Time, double Value, string? Unit)> points;
                lock (gate)
                {
                    points = [.. data.Where(d => d.Namespace == ModelDocument.GetString(input["Namespace"]) && d.Name == ModelDocument.GetString(input["MetricName"])
                        && d.Dimensions == key && d.Time >= start && d.Time < end).Select(d => (d.Time, d.Value, d.Unit))];
                }

                var datapoints = points.GroupBy(p => p.Time.ToUnixTimeSeconds() / period * period).OrderBy(g => g.Key).Select(g =>
                {
                    var point = new JsonObject { ["Timestamp"] = ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeSeconds(g.Key)) };
                    if (stats.Contains("SampleCount"))
                    {
                        point["SampleCount"] = (double)g.Count();
                    }

                    if (stats.Contains("Average"))
                    {
                        point["Average"] = g.Average(p => p.Value);
                    }

                    if (stats.Contains("Sum"))
                    {
                        point["Sum"] = g.Sum(p => p.Value);
                    }

                    if (stats.Contains("Maximum"))
                    {
                        point["Maximum"] = g.Max(p => p.Value);
                    }

                    if (stats.Contains("Minimum"))
                    {
                        point["Minimum"] = g.Min(p => p.Value);
                    }

                    point["Unit"] = g.First().Unit ?? "None";
                    return (JsonNode)point;
                });
                return new JsonObject { ["Label"] = ModelDocument.GetString(input["MetricName"]), ["Datapoints"] = new JsonArray([.. datapoints]) };
            });
    }

    /// <summary>Lambda (rest-json): GetFunction, Invoke (echo), TagResource and ListTags.</summary>
    public static ModelService Lambda()
    {
        var tags = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        const string Arn = "arn:aws:lambda:us-east-1:" + Account + ":function:echo";
        static void Known(string? name)
        {
            if (name is not ("echo" or Arn))
            {
                throw new ServiceException("ResourceNotFoundException", $"Function not found: arn:aws:lambda:us-east-1:{Account}:function:{name}");
            }
        }

        return new ModelService("lambda")
            .On("GetFunction", (input, _) =>
            {
                Known(ModelDocument.GetString(input["FunctionName"]));
                return new JsonObject
                {
                    ["Configuration"] = new JsonObject
                    {
                        ["FunctionName"] = "echo",
                        ["FunctionArn"] = Arn,
                        ["Runtime"] = "python3.12",
                        ["MemorySize"] = 128,
                        ["LastModified"] = "2026-01-02T03:04:05.000+0000",
                    },
                };
            })
            .On("Invoke", (input, _) =>
            {
                Known(ModelDocument.GetString(input["FunctionName"]));
                if (ModelDocument.GetString(input["InvocationType"]) == "Event")
                {
                    return new JsonObject { ["StatusCode"] = 202 };
                }

                var output = new JsonObject
                {
                    ["StatusCode"] = 200,
                    ["ExecutedVersion"] = "$LATEST",
                    ["Payload"] = ModelDocument.Blob(ModelDocument.GetBytes(input["Payload"]) ?? []),
                };
                if (ModelDocument.GetString(input["LogType"]) == "Tail")
                {
                    output["LogResult"] = Convert.ToBase64String("START echo\nEND echo\n"u8.ToArray());
                }

                return output;
            })
            .On("TagResource", (input, _) =>
            {
                var resource = ModelDocument.GetString(input["Resource"])!;
                lock (tags)
                {
                    if (!tags.TryGetValue(resource, out var existing))
                    {
                        tags[resource] = existing = [];
                    }

                    foreach (var (k, v) in (JsonObject)input["Tags"]!)
                    {
                        existing[k] = v?.DeepClone();
                    }
                }

                return null;
            })
            .On("ListTags", (input, _) =>
            {
                lock (tags)
                {
                    return new JsonObject { ["Tags"] = tags.TryGetValue(ModelDocument.GetString(input["Resource"])!, out var t) ? t.DeepClone() : new JsonObject() };
                }
            });
    }

    /// <summary>S3 (rest-xml): bucket tagging and a fixed ListObjectsV2, enough to exercise XML payloads and flattened lists.</summary>
    public static ModelService S3()
    {
        var tagging = new Dictionary<string, JsonArray>(StringComparer.Ordinal);
        return new ModelService("s3")
            .On("PutBucketTagging", (input, _) =>
            {
                lock (tagging)
                {
                    tagging[ModelDocument.GetString(input["Bucket"])!] = (JsonArray)input["Tagging"]!["TagSet"]!.DeepClone();
                }

                return null;
            })
            .On("GetBucketTagging", (input, _) =>
            {
                lock (tagging)
                {
                    return tagging.TryGetValue(ModelDocument.GetString(input["Bucket"])!, out var set)
                        ? new JsonObject { ["TagSet"] = set.DeepClone() }
                        : throw new ServiceException("NoSuchTagSet", "The TagSet does not exist", 404);
                }
            })
            .On("ListObjectsV2", (input, _) =>
            {
                var prefix = ModelDocument.GetString(input["Prefix"]) ?? "";
                var contents = new JsonArray();
                foreach (var (key, size) in new[] { ("logs/a.txt", 3L), ("logs/b.txt", 5L), ("other/c.txt", 8L) })
                {
                    if (key.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        contents.Add(new JsonObject
                        {
                            ["Key"] = key,
                            ["Size"] = size,
                            ["ETag"] = "\"" + size.ToString(CultureInfo.InvariantCulture) + "\"",
                            ["LastModified"] = ModelDocument.Timestamp(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)),
                            ["StorageClass"] = "STANDARD",
                        });
                    }
                }

                return new JsonObject
                {
                    ["Name"] = ModelDocument.GetString(input["Bucket"]),
                    ["Prefix"] = prefix,
                    ["KeyCount"] = contents.Count,
                    ["MaxKeys"] = 1000,
                    ["IsTruncated"] = false,
                    ["Contents"] = contents,
                };
            });
    }
}

/// <summary>A service that only has a name and routes: what the router and the front door's checks look at.</summary>
internal sealed class NamedService(string name, ServiceRoutes routes) : IAwsService
{
    public string Name => name;

    public ServiceRoutes Routes => routes;

    public Task HandleAsync(HttpContext http) => Task.CompletedTask;

    public Task WriteErrorAsync(HttpContext http, Millrace.Protocol.Wire.ServiceException error) => Task.CompletedTask;
}
