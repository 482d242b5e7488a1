using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Millrace.Server.Tests.S3;

/// <summary>
/// Crash durability of S3 writes: 16 concurrent uploads (10 single PUTs of 1–8 MiB, 6 multipart uploads of 3 parts)
/// over raw HTTP, SIGKILL mid-stream, restart on the same data directory. Every acknowledged object (200 to its PUT or
/// CompleteMultipartUpload) must read back with its exact bytes; an unacknowledged one is either absent or complete and
/// correct; and after the restart <c>&lt;data-dir&gt;/s3/blobs</c> holds only files something references (the store sweeps
/// orphaned writes at open): one per single-PUT object, one per part of a multipart object or of an upload in progress.
/// </summary>
public sealed partial class S3CrashDurabilityTests
{
    private const int SinglePuts = 10;
    private const int MultipartUploads = 6;
    private const int PartSize = 5 * 1024 * 1024;

    private sealed record Upload(string Key, byte[] Data, bool Multipart)
    {
        public string Md5 => Convert.ToHexStringLower(MD5.HashData(Data));
    }

    [Fact]
    public async Task AcknowledgedObjectsSurviveSigkillAndNothingPartialIsVisible()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        var bucket = S3TestSupport.UniqueBucket("crash");
        (await http.PutAsync($"{server.Endpoint}/{bucket}", null)).EnsureSuccessStatusCode();

        var rng = new Random(1234);
        var uploads = new List<Upload>();
        for (int i = 0; i < SinglePuts; i++)
        {
            var data = new byte[rng.Next(1, 9) * 1024 * 1024 - rng.Next(0, 1000)];
            rng.NextBytes(data);
            uploads.Add(new Upload($"single/{i:00}", data, Multipart: false));
        }

        for (int i = 0; i < MultipartUploads; i++)
        {
            var data = new byte[(2 * PartSize) + rng.Next(1, 3 * 1024 * 1024)];
            rng.NextBytes(data);
            uploads.Add(new Upload($"multi/{i:00}", data, Multipart: true));
        }

        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var tasks = uploads.Select(u => Task.Run(async () =>
        {
            try
            {
                var etag = u.Multipart ? await MultipartAsync(http, server.Endpoint, bucket, u, stop.Token) : await PutAsync(http, server.Endpoint, bucket, u, stop.Token);
                if (etag is not null)
                {
                    acknowledged[u.Key] = etag;
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                // Cut off by the kill: not acknowledged.
            }
        })).ToList();

        // Kill once some uploads are acknowledged and others are still in flight (bounded wait).
        for (int i = 0; i < 600 && acknowledged.Count < 5 && !tasks.All(t => t.IsCompleted); i++)
        {
            await Task.Delay(20);
        }

        server.Kill();
        await Task.WhenAll(tasks);
        Assert.True(acknowledged.Count > 0, "no upload was acknowledged before the kill");

        await using var restarted = await MillraceProcess.StartInAsync(server.DataDirectory);
        var visible = 0;
        foreach (var u in uploads)
        {
            using var response = await http.GetAsync($"{restarted.Endpoint}/{bucket}/{u.Key}");
            if (acknowledged.TryGetValue(u.Key, out var etag))
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"acknowledged {u.Key} is missing after the restart: {response.StatusCode}");
                var bytes = await response.Content.ReadAsByteArrayAsync();
                Assert.True(Convert.ToHexStringLower(MD5.HashData(bytes)) == u.Md5, $"acknowledged {u.Key} came back with different bytes ({bytes.Length} of {u.Data.Length})");
                Assert.Equal(etag, response.Headers.ETag?.Tag);
                visible++;
            }
            else if (response.StatusCode == HttpStatusCode.OK)
            {
                var bytes = await response.Content.ReadAsByteArrayAsync();
                Assert.True(Convert.ToHexStringLower(MD5.HashData(bytes)) == u.Md5, $"unacknowledged {u.Key} is visible partially ({bytes.Length} of {u.Data.Length} bytes)");
                visible++;
            }
            else
            {
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{u.Key}: {response.StatusCode}");
            }
        }

        // Blob files after the sweep: exactly those referenced by visible objects and by parts of uploads in progress.
        var expectedBlobs = 0;
        foreach (var u in uploads)
        {
            using var head = new HttpRequestMessage(HttpMethod.Head, $"{restarted.Endpoint}/{bucket}/{u.Key}");
            using var response = await http.SendAsync(head);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                expectedBlobs += u.Multipart ? 3 : 1;
            }
        }

        var inProgress = await http.GetStringAsync($"{restarted.Endpoint}/{bucket}?uploads");
        foreach (Match m in UploadEntry().Matches(inProgress))
        {
            var parts = await http.GetStringAsync($"{restarted.Endpoint}/{bucket}/{m.Groups["key"].Value}?uploadId={Uri.EscapeDataString(m.Groups["id"].Value)}");
            expectedBlobs += PartNumber().Matches(parts).Count;
        }

        var blobDir = Path.Combine(restarted.DataDirectory, "s3", "blobs");
        var blobFiles = Directory.EnumerateFiles(blobDir, "*", SearchOption.AllDirectories).ToList();
        var s3Entries = Directory.EnumerateFileSystemEntries(Path.Combine(restarted.DataDirectory, "s3")).Select(Path.GetFileName).Order().ToList();
        Assert.True(blobFiles.Count == expectedBlobs,
            $"{blobFiles.Count} blob files after the restart, {expectedBlobs} referenced ({visible} visible objects, uploads in progress:\n{inProgress}); s3/ holds {string.Join(", ", s3Entries)}");
        Assert.DoesNotContain(s3Entries, e => e!.EndsWith(".tmp", StringComparison.OrdinalIgnoreCase));
    }

    private static async Task<string?> PutAsync(HttpClient http, string endpoint, string bucket, Upload u, CancellationToken ct)
    {
        using var response = await http.PutAsync($"{endpoint}/{bucket}/{u.Key}", new ByteArrayContent(u.Data), ct);
        return response.StatusCode == HttpStatusCode.OK ? response.Headers.ETag?.Tag : null;
    }

    private static async Task<string?> MultipartAsync(HttpClient http, string endpoint, string bucket, Upload u, CancellationToken ct)
    {
        var url = $"{endpoint}/{bucket}/{u.Key}";
        using var created = await http.PostAsync(url + "?uploads", null, ct);
        if (created.StatusCode != HttpStatusCode.OK)
        {
            return null;
        }

        var uploadId = UploadIdElement().Match(await created.Content.ReadAsStringAsync(ct)).Groups[1].Value;
        var body = new System.Text.StringBuilder("<CompleteMultipartUpload>");
        for (int part = 1; part <= 3; part++)
        {
            int offset = (part - 1) * PartSize;
            int length = part < 3 ? PartSize : u.Data.Length - offset;
            using var response = await http.PutAsync($"{url}?partNumber={part}&uploadId={Uri.EscapeDataString(uploadId)}", new ByteArrayContent(u.Data, offset, length), ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            body.Append("<Part><PartNumber>").Append(part).Append("</PartNumber><ETag>").Append(response.Headers.ETag?.Tag).Append("</ETag></Part>");
        }

        body.Append("</CompleteMultipartUpload>");
        using var completed = await http.PostAsync($"{url}?uploadId={Uri.EscapeDataString(uploadId)}", new StringContent(body.ToString()), ct);
        var xml = await completed.Content.ReadAsStringAsync(ct);
        if (completed.StatusCode != HttpStatusCode.OK || !xml.Contains("<CompleteMultipartUploadResult", StringComparison.Ordinal))
        {
            return null;
        }

        return WebUtility.HtmlDecode(ETagElement().Match(xml).Groups[1].Value);
    }

    [GeneratedRegex("<UploadId>([^<]+)</UploadId>")]
    private static partial Regex UploadIdElement();

    [GeneratedRegex("<ETag>([^<]+)</ETag>")]
    private static partial Regex ETagElement();

    [GeneratedRegex("<Upload>.*?<Key>(?<key>[^<]+)</Key>.*?<UploadId>(?<id>[^<]+)</UploadId>.*?</Upload>", RegexOptions.Singleline)]
    private static partial Regex UploadEntry();

    [GeneratedRegex("<PartNumber>")]
    private static partial Regex PartNumber();
}
