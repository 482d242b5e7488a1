using System.Text.Json;

namespace Millrace.Server.Tests.S3;

/// <summary>
/// AWS CLI v2 (<c>/usr/bin/aws --endpoint-url</c>) high-level <c>aws s3</c> commands and <c>aws s3api</c> operations,
/// with downloaded bytes compared (SHA-256) to the source files.
/// </summary>
public sealed class AwsCliS3Tests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    private async Task<ExternalTool.Result> AwsRaw(params string[] args)
    {
        if (!File.Exists(S3TestSupport.AwsPath))
        {
            Assert.Fail($"{S3TestSupport.AwsPath} (AWS CLI v2) is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        string[] common = ["--endpoint-url", Server.Endpoint, "--region", "us-east-1", "--no-cli-pager", "--output", "json"];
        return await ExternalTool.RunAsync(S3TestSupport.AwsPath, [.. common, .. args], timeout: TimeSpan.FromSeconds(120));
    }

    private async Task<string> Aws(params string[] args)
    {
        var result = await AwsRaw(args);
        S3TestSupport.RequireSuccess(Server, result, "aws " + string.Join(' ', args));
        return result.StdOut;
    }

    private async Task<JsonElement> AwsJson(params string[] args)
    {
        var text = await Aws(args);
        using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(text) ? "{}" : text);
        return doc.RootElement.Clone();
    }

    private static void WriteRandom(string path, int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, data);
    }

    [Fact]
    public async Task HighLevelS3Commands()
    {
        using var work = S3TestSupport.NewTempDir();
        var bucket = S3TestSupport.UniqueBucket("cli");
        var url = $"s3://{bucket}";
        await Aws("s3", "mb", url);

        var small = Path.Combine(work.Path, "small.txt");
        File.WriteAllText(small, "hello from the aws cli\n");
        var big = Path.Combine(work.Path, "big.bin");
        WriteRandom(big, 50 * 1024 * 1024, 50);
        await Aws("s3", "cp", small, $"{url}/docs/small.txt");
        await Aws("s3", "cp", big, $"{url}/blobs/big.bin");

        // The 50 MB file went up as a multipart upload (the CLI's 8 MB threshold and chunk size: 7 parts).
        var head = await AwsJson("s3api", "head-object", "--bucket", bucket, "--key", "blobs/big.bin");
        Assert.Equal(50L * 1024 * 1024, head.GetProperty("ContentLength").GetInt64());
        Assert.EndsWith("-7\"", head.GetProperty("ETag").GetString());

        var down = Path.Combine(work.Path, "down");
        await Aws("s3", "cp", $"{url}/blobs/big.bin", Path.Combine(down, "big.bin"));
        await Aws("s3", "cp", $"{url}/docs/small.txt", Path.Combine(down, "small.txt"));
        Assert.Equal(S3TestSupport.Sha256File(big), S3TestSupport.Sha256File(Path.Combine(down, "big.bin")));
        Assert.Equal(S3TestSupport.Sha256File(small), S3TestSupport.Sha256File(Path.Combine(down, "small.txt")));

        var buckets = await Aws("s3", "ls");
        Assert.Contains(bucket, buckets);
        var top = await Aws("s3", "ls", url + "/");
        Assert.Contains("PRE blobs/", top);
        Assert.Contains("PRE docs/", top);
        var recursive = await Aws("s3", "ls", url, "--recursive");
        Assert.Contains("docs/small.txt", recursive);
        Assert.Contains("blobs/big.bin", recursive);

        // sync a tree of 36 files; a second sync copies nothing; one changed file is copied alone.
        var tree = Path.Combine(work.Path, "tree");
        for (int i = 0; i < 36; i++)
        {
            WriteRandom(Path.Combine(tree, $"d{i % 4}", $"sub{i % 3}", $"f{i:00}.dat"), 1000 + (i * 137), i);
        }

        var first = await Aws("s3", "sync", tree, $"{url}/tree");
        Assert.Equal(36, first.Split(['\n', '\r']).Count(l => l.StartsWith("upload:", StringComparison.Ordinal)));
        var second = await Aws("s3", "sync", tree, $"{url}/tree");
        Assert.DoesNotContain("upload:", second);
        var changed = Path.Combine(tree, "d1", "sub2", "f05.dat");
        File.WriteAllText(changed, "changed contents, a different size");
        var third = await Aws("s3", "sync", tree, $"{url}/tree");
        var uploads = third.Split(['\n', '\r']).Where(l => l.StartsWith("upload:", StringComparison.Ordinal)).ToList();
        Assert.True(uploads.Count == 1 && uploads[0].Contains("f05.dat", StringComparison.Ordinal), third);
        var back = Path.Combine(work.Path, "back");
        await Aws("s3", "sync", $"{url}/tree", back);
        foreach (var file in Directory.EnumerateFiles(tree, "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(back, Path.GetRelativePath(tree, file));
            Assert.Equal(S3TestSupport.Sha256File(file), S3TestSupport.Sha256File(copy));
        }

        // rb refuses a non-empty bucket; rm --recursive empties it; then rb succeeds.
        var refused = await AwsRaw("s3", "rb", url);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("BucketNotEmpty", refused.StdErr);
        var removed = await Aws("s3", "rm", url, "--recursive");
        Assert.Equal(38, removed.Split(['\n', '\r']).Count(l => l.StartsWith("delete:", StringComparison.Ordinal)));
        Assert.True(string.IsNullOrWhiteSpace(await Aws("s3", "ls", url, "--recursive")));
        await Aws("s3", "rb", url);
        Assert.DoesNotContain(bucket, await Aws("s3", "ls"));
    }

    [Fact]
    public async Task S3ApiOperations()
    {
        using var work = S3TestSupport.NewTempDir();
        var bucket = S3TestSupport.UniqueBucket("api");
        await AwsJson("s3api", "create-bucket", "--bucket", bucket);
        var location = await AwsJson("s3api", "get-bucket-location", "--bucket", bucket);
        Assert.True(location.GetProperty("LocationConstraint").ValueKind is JsonValueKind.Null || location.GetProperty("LocationConstraint").GetString() is null or "", location.ToString());

        var src = Path.Combine(work.Path, "obj.bin");
        WriteRandom(src, 100_000, 7);
        var put = await AwsJson("s3api", "put-object", "--bucket", bucket, "--key", "a/obj.bin", "--body", src, "--content-type", "application/x-test");
        var md5 = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(src)));
        Assert.Equal($"\"{md5}\"", put.GetProperty("ETag").GetString());

        var ranged = Path.Combine(work.Path, "ranged.bin");
        var rangeResult = await AwsJson("s3api", "get-object", "--bucket", bucket, "--key", "a/obj.bin", "--range", "bytes=1000-1999", ranged);
        Assert.Equal("bytes 1000-1999/100000", rangeResult.GetProperty("ContentRange").GetString());
        Assert.Equal(S3TestSupport.Sha256(File.ReadAllBytes(src)[1000..2000]), S3TestSupport.Sha256File(ranged));
        var full = Path.Combine(work.Path, "full.bin");
        await AwsJson("s3api", "get-object", "--bucket", bucket, "--key", "a/obj.bin", full);
        Assert.Equal(S3TestSupport.Sha256File(src), S3TestSupport.Sha256File(full));

        var head = await AwsJson("s3api", "head-object", "--bucket", bucket, "--key", "a/obj.bin");
        Assert.Equal(100_000, head.GetProperty("ContentLength").GetInt64());
        Assert.Equal("application/x-test", head.GetProperty("ContentType").GetString());

        await AwsJson("s3api", "put-object-tagging", "--bucket", bucket, "--key", "a/obj.bin", "--tagging", "TagSet=[{Key=env,Value=test},{Key=team,Value=s3}]");
        var tags = await AwsJson("s3api", "get-object-tagging", "--bucket", bucket, "--key", "a/obj.bin");
        var tagSet = tags.GetProperty("TagSet").EnumerateArray().Select(t => $"{t.GetProperty("Key").GetString()}={t.GetProperty("Value").GetString()}").Order().ToList();
        Assert.Equal(["env=test", "team=s3"], tagSet);

        // list-objects-v2: 3 folders x 5 keys + 5 root keys; --delimiter and --max-items paging through NextToken.
        var empty = Path.Combine(work.Path, "empty");
        File.WriteAllBytes(empty, []);
        var keys = new List<string>();
        for (int f = 0; f < 3; f++)
        {
            for (int k = 0; k < 5; k++)
            {
                keys.Add($"list/f{f}/k{k}");
            }
        }

        for (int k = 0; k < 5; k++)
        {
            keys.Add($"list/r{k}");
        }

        foreach (var key in keys)
        {
            await AwsJson("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", empty);
        }

        var listed = await AwsJson("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "list/", "--delimiter", "/");
        Assert.Equal(["list/f0/", "list/f1/", "list/f2/"], listed.GetProperty("CommonPrefixes").EnumerateArray().Select(p => p.GetProperty("Prefix").GetString()!).ToList());
        Assert.Equal(keys.Where(k => k.StartsWith("list/r", StringComparison.Ordinal)).ToList(), listed.GetProperty("Contents").EnumerateArray().Select(c => c.GetProperty("Key").GetString()!).ToList());

        var paged = new List<string>();
        string? token = null;
        int pages = 0;
        do
        {
            string[] args = ["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "list/", "--max-items", "4", "--page-size", "3"];
            var page = await AwsJson(token is null ? args : [.. args, "--starting-token", token]);
            paged.AddRange(page.GetProperty("Contents").EnumerateArray().Select(c => c.GetProperty("Key").GetString()!));
            token = page.TryGetProperty("NextToken", out var t) ? t.GetString() : null;
            pages++;
        }
        while (token is not null && pages < 20);
        Assert.Equal(keys.Order(StringComparer.Ordinal).ToList(), paged);
        Assert.Equal(5, pages);

        // Multipart through s3api: 2 parts of 5 MiB + 1 KiB.
        var partFiles = new[] { Path.Combine(work.Path, "p1"), Path.Combine(work.Path, "p2") };
        WriteRandom(partFiles[0], 5 * 1024 * 1024, 11);
        WriteRandom(partFiles[1], 1024, 12);
        var upload = await AwsJson("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "mp/obj");
        var uploadId = upload.GetProperty("UploadId").GetString()!;
        var etags = new List<string>();
        for (int i = 0; i < 2; i++)
        {
            var part = await AwsJson("s3api", "upload-part", "--bucket", bucket, "--key", "mp/obj", "--upload-id", uploadId, "--part-number", (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "--body", partFiles[i]);
            etags.Add(part.GetProperty("ETag").GetString()!);
        }

        var parts = Path.Combine(work.Path, "parts.json");
        File.WriteAllText(parts, JsonSerializer.Serialize(new { Parts = etags.Select((e, i) => new { ETag = e, PartNumber = i + 1 }) }));
        var completed = await AwsJson("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "mp/obj", "--upload-id", uploadId, "--multipart-upload", "file://" + parts);
        var partMd5s = partFiles.SelectMany(p => System.Security.Cryptography.MD5.HashData(File.ReadAllBytes(p))).ToArray();
        Assert.Equal($"\"{Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(partMd5s))}-2\"", completed.GetProperty("ETag").GetString());
        var mpOut = Path.Combine(work.Path, "mp.out");
        await AwsJson("s3api", "get-object", "--bucket", bucket, "--key", "mp/obj", mpOut);
        Assert.Equal(S3TestSupport.Sha256([.. File.ReadAllBytes(partFiles[0]), .. File.ReadAllBytes(partFiles[1])]), S3TestSupport.Sha256File(mpOut));

        // delete-objects: every key, then the listing is empty.
        var all = keys.Concat(["a/obj.bin", "mp/obj"]).ToList();
        var delete = Path.Combine(work.Path, "delete.json");
        File.WriteAllText(delete, JsonSerializer.Serialize(new { Objects = all.Select(k => new { Key = k }), Quiet = false }));
        var deleted = await AwsJson("s3api", "delete-objects", "--bucket", bucket, "--delete", "file://" + delete);
        Assert.Equal(all.Order(StringComparer.Ordinal), deleted.GetProperty("Deleted").EnumerateArray().Select(d => d.GetProperty("Key").GetString()!).Order(StringComparer.Ordinal));
        var after = await AwsJson("s3api", "list-objects-v2", "--bucket", bucket);
        Assert.False(after.TryGetProperty("Contents", out _), after.ToString());
        await AwsJson("s3api", "delete-bucket", "--bucket", bucket);
    }
}
