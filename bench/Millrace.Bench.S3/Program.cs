using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Millrace.Bench.Load;

// millrace-s3-load: S3 REST load against any S3-compatible endpoint (path style, unsigned requests), one JSON line per
// scenario on stdout. Bounded: every scenario stops after --seconds (or its fixed amount of work).
//   millrace-s3-load --endpoint http://127.0.0.1:4567 --label millrace [--server-pid N] [--seconds 5] [--warmup-seconds 1] [--concurrency 16]
//                    [--list-keys 1000000] [--multipart-mib 5120] [--scenarios put-1mib,get-1mib,put-4kib,list-1000,multipart]
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string endpoint = options.GetValueOrDefault("endpoint", "http://127.0.0.1:4567").TrimEnd('/');
string label = options.GetValueOrDefault("label", "server");
int? pid = options.TryGetValue("server-pid", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : null;
double seconds = double.Parse(options.GetValueOrDefault("seconds", "5"), CultureInfo.InvariantCulture);
double warmupSeconds = double.Parse(options.GetValueOrDefault("warmup-seconds", "1"), CultureInfo.InvariantCulture);
int concurrency = int.Parse(options.GetValueOrDefault("concurrency", "16"), CultureInfo.InvariantCulture);
int listKeys = int.Parse(options.GetValueOrDefault("list-keys", "1000000"), CultureInfo.InvariantCulture);
int multipartMiB = int.Parse(options.GetValueOrDefault("multipart-mib", "5120"), CultureInfo.InvariantCulture);
var scenarios = options.GetValueOrDefault("scenarios", "put-1mib,get-1mib,put-4kib,list-1000,multipart").Split(',');

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    Timeout = TimeSpan.FromMinutes(10),
};
// Signature-shaped headers (not verified by either server): moto treats a request without them as anonymous and
// refuses reads of a private bucket.
http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261206/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000");
http.DefaultRequestHeaders.TryAddWithoutValidation("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
var bucket = "bench-" + Guid.NewGuid().ToString("N")[..8];
await Check(await http.PutAsync($"{endpoint}/{bucket}", null), "CreateBucket");

foreach (var scenario in scenarios)
{
    var started = Stopwatch.StartNew();
    double cpuBefore = ProcessStats.CpuSeconds(pid) ?? 0;
    var result = new Dictionary<string, object?> { ["server"] = label, ["scenario"] = scenario };
    try
    {
        switch (scenario)
        {
            case "put-1mib":
                await Throughput(result, 1 << 20, put: true);
                break;
            case "get-1mib":
                await Throughput(result, 1 << 20, put: false);
                break;
            case "put-4kib":
                await Throughput(result, 4096, put: true);
                break;
            case "list-1000":
                await ListPages(result);
                break;
            case "multipart":
                await Multipart(result);
                break;
            default:
                throw new ArgumentException("unknown scenario " + scenario);
        }
    }
    catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or TaskCanceledException or IOException)
    {
        result["error"] = ex.Message;
    }

    result["seconds"] = Math.Round(started.Elapsed.TotalSeconds, 2);
    result["serverCpuSeconds"] = pid is null ? null : Math.Round((ProcessStats.CpuSeconds(pid) ?? 0) - cpuBefore, 1);
    result["serverPeakRssMiB"] = ProcessStats.PeakRssMiB(pid);
    Console.WriteLine(JsonSerializer.Serialize(result));
}

return 0;

async Task Throughput(Dictionary<string, object?> result, int size, bool put)
{
    var body = new byte[size];
    Random.Shared.NextBytes(body);
    string prefix = $"obj-{size}/";
    if (!put)
    {
        // Objects to read: what put-1mib wrote, or a fresh set.
        await Parallel.ForAsync(0, 64, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
            await Check(await http.PutAsync($"{endpoint}/{bucket}/{prefix}{i}", new ByteArrayContent(body), ct), "seed"));
    }

    // Warm-up (JIT, connections, thread pool), not counted; then the measured run.
    await Measure(warmupSeconds, "warmup-");
    await Measure(seconds, "");

    async Task Measure(double duration, string tag)
    {
        long operations = 0, errors = 0;
        var latencies = new List<double>[concurrency];
        var deadline = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = [];
            var buffer = new byte[size];
            for (long n = 0; deadline.Elapsed.TotalSeconds < duration && n < 1_000_000; n++)
            {
                var t = Stopwatch.GetTimestamp();
                HttpResponseMessage response;
                if (put)
                {
                    response = await http.PutAsync($"{endpoint}/{bucket}/{prefix}{tag}{w}-{n}", new ByteArrayContent(body));
                }
                else
                {
                    response = await http.GetAsync($"{endpoint}/{bucket}/{prefix}{(w * 7 + n) % 64}", HttpCompletionOption.ResponseHeadersRead);
                    await using var stream = await response.Content.ReadAsStreamAsync();
                    while (await stream.ReadAsync(buffer) > 0)
                    {
                    }
                }

                using (response)
                {
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref operations);
                    }
                    else
                    {
                        Interlocked.Increment(ref errors);
                    }
                }

                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        double elapsed = deadline.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        result["objects"] = operations;
        result["errorResponses"] = errors;
        result["objectsPerSecond"] = Math.Round(operations / elapsed, 1);
        result["megabytesPerSecond"] = Math.Round(operations * (double)size / elapsed / 1_000_000, 1);
        result["latencyP50Ms"] = all.Length == 0 ? null : Math.Round(all[all.Length / 2], 2);
        result["latencyP99Ms"] = all.Length == 0 ? null : Math.Round(all[Math.Min(all.Length - 1, all.Length * 99 / 100)], 2);
    }
}

async Task ListPages(Dictionary<string, object?> result)
{
    // Seed listKeys empty objects in nested "folders", then time ListObjectsV2 pages of 1,000 from random start points.
    var seed = Stopwatch.StartNew();
    long seeded = 0;
    await Parallel.ForAsync(0, listKeys, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
    {
        using var response = await http.PutAsync($"{endpoint}/{bucket}/keys/{i % 100:D2}/{i:D8}", new ByteArrayContent([]), ct);
        if (response.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref seeded);
        }
    });
    result["seededKeys"] = seeded;
    result["seedObjectsPerSecond"] = Math.Round(seeded / seed.Elapsed.TotalSeconds, 0);

    var latencies = new List<double>();
    var rng = new Random(42);
    var deadline = Stopwatch.StartNew();
    for (int n = 0; n < 200 && deadline.Elapsed.TotalSeconds < seconds * 2; n++)
    {
        int start = rng.Next(listKeys);
        var url = $"{endpoint}/{bucket}?list-type=2&max-keys=1000&prefix=keys/&start-after=keys/{start % 100:D2}/{start:D8}";
        var t = Stopwatch.GetTimestamp();
        using var response = await http.GetAsync(url);
        var text = await response.Content.ReadAsStringAsync();
        latencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
        if (response.StatusCode != HttpStatusCode.OK || !text.Contains("<Key>", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"ListObjectsV2 answered {(int)response.StatusCode}: {text[..Math.Min(200, text.Length)]}");
        }
    }

    var sorted = latencies.Order().ToArray();
    result["pages"] = sorted.Length;
    result["latencyP50Ms"] = Math.Round(sorted[sorted.Length / 2], 2);
    result["latencyP99Ms"] = Math.Round(sorted[Math.Min(sorted.Length - 1, sorted.Length * 99 / 100)], 2);
}

async Task Multipart(Dictionary<string, object?> result)
{
    // One upload of multipartMiB in 8 MiB parts, 4 at a time; the server's RSS is sampled throughout.
    const int PartBytes = 8 << 20;
    int parts = Math.Max(1, multipartMiB / 8);
    var create = await http.PostAsync($"{endpoint}/{bucket}/multipart-big?uploads", null);
    var xml = await create.Content.ReadAsStringAsync();
    await Check(create, "CreateMultipartUpload");
    var uploadId = System.Text.RegularExpressions.Regex.Match(xml, "<UploadId>([^<]+)</UploadId>").Groups[1].Value;
    var body = new byte[PartBytes];
    Random.Shared.NextBytes(body);
    var etags = new string[parts];
    var rss = new List<double>();
    using var sampling = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        while (!sampling.IsCancellationRequested)
        {
            if (CurrentRssMiB(pid) is { } mib)
            {
                lock (rss)
                {
                    rss.Add(mib);
                }
            }

            try
            {
                await Task.Delay(200, sampling.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    });
    var timer = Stopwatch.StartNew();
    await Parallel.ForAsync(0, parts, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
    {
        using var response = await http.PutAsync($"{endpoint}/{bucket}/multipart-big?partNumber={i + 1}&uploadId={Uri.EscapeDataString(uploadId)}", new ByteArrayContent(body), ct);
        await Check(response, "UploadPart");
        etags[i] = response.Headers.ETag!.Tag;
    });
    var complete = "<CompleteMultipartUpload>" + string.Concat(etags.Select((e, i) => $"<Part><PartNumber>{i + 1}</PartNumber><ETag>{e}</ETag></Part>")) + "</CompleteMultipartUpload>";
    await Check(await http.PostAsync($"{endpoint}/{bucket}/multipart-big?uploadId={Uri.EscapeDataString(uploadId)}", new StringContent(complete)), "CompleteMultipartUpload");
    double elapsed = timer.Elapsed.TotalSeconds;
    await sampling.CancelAsync();
    await sampler;
    result["uploadMiB"] = parts * 8;
    result["megabytesPerSecond"] = Math.Round(parts * (double)PartBytes / elapsed / 1_000_000, 1);
    lock (rss)
    {
        result["serverRssMiBFirst"] = rss.Count > 0 ? rss[0] : null;
        result["serverRssMiBMax"] = rss.Count > 0 ? rss.Max() : null;
        result["serverRssMiBLast"] = rss.Count > 0 ? rss[^1] : null;
    }

    using var delete = await http.DeleteAsync($"{endpoint}/{bucket}/multipart-big");
}

static async Task Check(HttpResponseMessage response, string what)
{
    if (!response.IsSuccessStatusCode)
    {
        var text = await response.Content.ReadAsStringAsync();
        throw new InvalidOperationException($"{what} answered {(int)response.StatusCode}: {text[..Math.Min(300, text.Length)]}");
    }
}

static double? CurrentRssMiB(int? pid)
{
    if (pid is null || !OperatingSystem.IsLinux())
    {
        return null;
    }

    try
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return Math.Round(double.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024, 1);
            }
        }
    }
    catch (IOException)
    {
    }

    return null;
}
