using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Encryption;

/// <summary>
/// StartStreamEncryption / StopStreamEncryption end to end: boto3 turns encryption on with
/// <c>alias/aws/kinesis</c> and writes records whose data and partition keys carry a unique marker, reads them back,
/// and after the server stops not one file under the data directory contains the marker.
/// </summary>
public sealed class EncryptionAtRestTests
{
    private const string AwsPath = "/usr/bin/aws";

    [Fact]
    public async Task DefaultKeyEncryptsRecordsOnDiskAndStopReturnsToPlaintext()
    {
        await using var server = await MillraceProcess.StartAsync();
        string name = "sse-" + Guid.NewGuid().ToString("N")[..10];
        string marker = "MARKER-" + Guid.NewGuid().ToString("N");
        string before = "before-sse-" + Guid.NewGuid().ToString("N");
        string after = "after-sse-" + Guid.NewGuid().ToString("N");

        // boto3: plaintext record, start with alias/aws/kinesis, marked records via put_record and put_records, read
        // back (per-record EncryptionType), stop, plaintext record.
        var script = Path.Combine(ExternalTool.RepositoryRoot, "tests", "clients", "python", "sse_boto3.py");
        var result = await ExternalTool.RunAsync("python3", [script, server.Endpoint, name, marker, before, after],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(90));
        Assert.True(result.ExitCode == 0 && result.StdOut.Contains("SUMMARY {\"ok\": true", StringComparison.Ordinal),
            $"{result}\nserver:\n{string.Join('\n', server.Output.TakeLast(40))}");

        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            var read = await GetAll(client, name);
            Assert.Equal(8, read.Count);
        }

        Assert.Equal(0, await server.StopAsync());
        Assert.Empty(FilesContaining(server.DataDirectory, marker));
        // The control: the same scan finds records written while encryption was off, so it would have found the marker.
        Assert.NotEmpty(FilesContaining(server.DataDirectory, before));
        Assert.NotEmpty(FilesContaining(server.DataDirectory, after));
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "keys", "aliases.json")));

        // After a restart everything reads back intact, each record with the EncryptionType it was stored with.
        await server.RestartAsync();
        using var restarted = new KinesisJsonClient(server.Endpoint);
        var again = await GetAll(restarted, name);
        Assert.Equal(8, again.Count);
        var byKey = again.ToDictionary(r => r["PartitionKey"]!.GetValue<string>(), r => (
            Data: Encoding.UTF8.GetString(Convert.FromBase64String(r["Data"]!.GetValue<string>())),
            Type: r["EncryptionType"]?.GetValue<string>()));
        Assert.Equal((before, "NONE"), byKey[before]);
        Assert.Equal((after, "NONE"), byKey[after]);
        Assert.Equal(($"{marker}-data-single", "KMS"), byKey[$"{marker}-pk-single"]);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(($"{marker}-data-{i}-" + new string('d', 100 * i), "KMS"), byKey[$"{marker}-pk-{i}"]);
        }
    }

    [Fact]
    public async Task CustomKeyFileByArnAndKmsErrors()
    {
        var keyDir = Path.Combine(Path.GetTempPath(), "millrace-keys-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(keyDir);
        try
        {
            string keyId = Guid.NewGuid().ToString();
            await File.WriteAllBytesAsync(Path.Combine(keyDir, keyId), RandomNumberGenerator.GetBytes(32));
            await File.WriteAllBytesAsync(Path.Combine(keyDir, "short-key"), RandomNumberGenerator.GetBytes(16));
            await File.WriteAllTextAsync(Path.Combine(keyDir, "aliases.json"), $$"""{ "alias/orders": "{{keyId}}" }""");
            await using var server = await MillraceProcess.StartAsync("--kms-key-dir", keyDir);
            using var client = new KinesisJsonClient(server.Endpoint);
            string name = "sse-" + Guid.NewGuid().ToString("N")[..10];
            await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });

            // Unknown keys: AWS's KMS exception, HTTP 400, and the stream stays unencrypted.
            string missing = Guid.NewGuid().ToString();
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = missing },
                "KMSNotFoundException", $"Key 'arn:aws:kms:us-east-1:000000000000:key/{missing}' does not exist");
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = "alias/nope" },
                "KMSNotFoundException", "Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found.");
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = $"arn:aws:kms:eu-west-1:000000000000:key/{keyId}" },
                "KMSNotFoundException", null);
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = "short-key" },
                "KMSNotFoundException", null);
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = "../keys/x" },
                "KMSNotFoundException", null);
            await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "NONE", KeyId = keyId },
                "InvalidArgumentException", null);
            await ExpectError(client, "StopStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = keyId },
                "InvalidArgumentException", null);
            var summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
            Assert.Equal("NONE", summary["EncryptionType"]!.GetValue<string>());
            Assert.Null(summary["KeyId"]);

            // boto3 maps the error to its modeled exception class.
            var py = await ExternalTool.RunAsync("python3", ["-c", $$"""
import boto3, sys
k = boto3.client("kinesis", endpoint_url="{{server.Endpoint}}", region_name="us-east-1")
try:
    k.start_stream_encryption(StreamName="{{name}}", EncryptionType="KMS", KeyId="alias/nope")
except k.exceptions.KMSNotFoundException as e:
    print("CAUGHT", e.response["ResponseMetadata"]["HTTPStatusCode"])
"""], timeout: TimeSpan.FromSeconds(60));
            Assert.True(py.StdOut.Contains("CAUGHT 400", StringComparison.Ordinal), py.ToString());

            // A key ARN of the operator's key file.
            string keyArn = $"arn:aws:kms:us-east-1:000000000000:key/{keyId}";
            await Aws(server, "start-stream-encryption", "--stream-name", name, "--encryption-type", "KMS", "--key-id", keyArn);
            summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
            Assert.Equal("KMS", summary["EncryptionType"]!.GetValue<string>());
            Assert.Equal(keyArn, summary["KeyId"]!.GetValue<string>());
            Assert.Equal("ACTIVE", summary["StreamStatus"]!.GetValue<string>());

            string marker = "ARN-MARKER-" + Guid.NewGuid().ToString("N");
            var put = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = marker, Data = Convert.ToBase64String(Encoding.UTF8.GetBytes(marker)) });
            Assert.Equal("KMS", put["EncryptionType"]!.GetValue<string>());
            var got = await GetAll(client, name);
            Assert.Equal(marker, Encoding.UTF8.GetString(Convert.FromBase64String(got.Single()["Data"]!.GetValue<string>())));
            Assert.Equal("KMS", got.Single()["EncryptionType"]!.GetValue<string>());

            // Stop needs the stream's key, under any of its names (here the alias).
            await ExpectError(client, "StopStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = Guid.NewGuid().ToString() },
                "InvalidArgumentException", null);
            await client.OkAsync("StopStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = "alias/orders" });

            // 25 changes per rolling 24 hours (the start and stop above count).
            for (int i = 2; i < 25; i++)
            {
                await client.OkAsync(i % 2 == 0 ? "StartStreamEncryption" : "StopStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = keyId });
            }

            await ExpectError(client, "StopStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = keyId },
                "LimitExceededException", null);
            var description = (await client.OkAsync("DescribeStream", new { StreamName = name }))["StreamDescription"]!;
            Assert.Equal("KMS", description["EncryptionType"]!.GetValue<string>()); // the 25th change was a start

            Assert.Equal(0, await server.StopAsync());
            Assert.Empty(FilesContaining(server.DataDirectory, marker));

            // The key file disappears: encrypted records cannot be read or written, with KMS's error.
            File.Delete(Path.Combine(keyDir, keyId));
            await server.RestartAsync();
            using var client2 = new KinesisJsonClient(server.Endpoint);
            var putResponse = await client2.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = "AA==" });
            Assert.Equal(HttpStatusCode.BadRequest, putResponse.Status);
            Assert.Equal("KMSNotFoundException", putResponse.ErrorType);
            var iterator = (await client2.OkAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
            var getResponse = await client2.CallAsync("GetRecords", new { ShardIterator = iterator });
            Assert.Equal(HttpStatusCode.BadRequest, getResponse.Status);
            Assert.Equal("KMSNotFoundException", getResponse.ErrorType);
        }
        finally
        {
            try { Directory.Delete(keyDir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task StartOnACreatingStreamIsResourceInUse()
    {
        await using var server = await MillraceProcess.StartAsync("--create-stream-ms", "60000");
        using var client = new KinesisJsonClient(server.Endpoint);
        string name = "sse-" + Guid.NewGuid().ToString("N")[..10];
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        await ExpectError(client, "StartStreamEncryption", new { StreamName = name, EncryptionType = "KMS", KeyId = "alias/aws/kinesis" },
            "ResourceInUseException", $"Stream {name} under account 000000000000 not ACTIVE, instead in state CREATING");
        await ExpectError(client, "StartStreamEncryption", new { StreamName = "no-such-stream", EncryptionType = "KMS", KeyId = "alias/aws/kinesis" },
            "ResourceNotFoundException", null);
    }

    private static async Task ExpectError(KinesisJsonClient client, string operation, object body, string type, string? message)
    {
        var response = await client.CallAsync(operation, body);
        Assert.True(response.Status == HttpStatusCode.BadRequest, $"{operation}: {response}");
        Assert.True(response.ErrorType == type, $"{operation}: {response}");
        if (message is not null)
        {
            Assert.Equal(message, response.ErrorMessage);
        }
    }

    private static async Task<List<JsonNode>> GetAll(KinesisJsonClient client, string name)
    {
        var iterator = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        var got = await client.OkAsync("GetRecords", new { ShardIterator = iterator });
        return [.. got["Records"]!.AsArray().Select(r => r!)];
    }

    /// <summary>Every file under <paramref name="root"/> whose bytes contain <paramref name="text"/> (UTF-8).</summary>
    private static List<string> FilesContaining(string root, string text)
    {
        byte[] needle = Encoding.UTF8.GetBytes(text);
        return [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => File.ReadAllBytes(f).AsSpan().IndexOf(needle) >= 0)];
    }

    private static async Task<JsonElement> Aws(MillraceProcess server, params string[] args)
    {
        if (!File.Exists(AwsPath))
        {
            Assert.Fail($"{AwsPath} (AWS CLI v2) is missing; run scripts/install-test-tools.sh (./test does it)");
        }

        string[] common = ["--endpoint-url", server.Endpoint, "--region", "us-east-1", "--no-cli-pager", "--output", "json", "kinesis"];
        var result = await ExternalTool.RunAsync(AwsPath, [.. common, .. args], timeout: TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            Assert.Fail($"aws {string.Join(' ', args)} failed\n{result}\nserver:\n{string.Join('\n', server.Output.TakeLast(40))}");
        }

        if (string.IsNullOrWhiteSpace(result.StdOut))
        {
            return JsonDocument.Parse("{}").RootElement.Clone();
        }

        using var doc = JsonDocument.Parse(result.StdOut);
        return doc.RootElement.Clone();
    }
}
