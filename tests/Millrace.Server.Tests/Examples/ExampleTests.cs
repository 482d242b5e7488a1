using System.Text.RegularExpressions;
using Millrace.Testing;

namespace Millrace.Server.Tests.Examples;

/// <summary>Runs an example's run.sh as a person would (it starts its own Millrace), with this build as its Millrace.</summary>
internal static class Example
{
    public static async Task<string> RunAsync(string example)
    {
        var script = Path.Combine(ExternalTool.RepositoryRoot, "examples", example, "run.sh");
        var result = await ExternalTool.RunAsync("bash", [script], env: new Dictionary<string, string> { ["MILLRACE"] = "dotnet " + MillraceProcess.CliPath },
            timeout: TimeSpan.FromMinutes(4));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("== done", result.StdOut, StringComparison.Ordinal);
        return result.StdOut;
    }
}

/// <summary>The examples built on the AWS CLI and the agent: what each run.sh printed is what its README says to look at.</summary>
public sealed class CliAndAgentExampleTests
{
    [Fact]
    public async Task Cli_walkthrough()
    {
        var output = await Example.RunAsync("cli-walkthrough");
        Assert.Contains("\"StreamStatus\": \"ACTIVE\"", output, StringComparison.Ordinal);
        Assert.Contains("   user signup\n   user login\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   user logout", output, StringComparison.Ordinal);
        Assert.Contains("\"StartingHashKey\": \"170141183460469231731687303715884105727\"", output, StringComparison.Ordinal);
        Assert.Matches(@"\|\s+shardId-000000000002\|\s+None\s+\|\s+shardId-000000000001 \|\s+shardId-000000000003\s+\|", output);
    }

    [Fact]
    public async Task Agent_to_stream()
    {
        var output = await Example.RunAsync("agent-to-stream");
        var server = output[output.IndexOf("== server-logs", StringComparison.Ordinal)..output.IndexOf("== access-logs", StringComparison.Ordinal)];
        Assert.True(Regex.Matches(server, @"^   \d\d:\d\d:\d\d log message$", RegexOptions.Multiline).Count >= 4, server);
        Assert.Contains("""   {"host":"127.0.0.1","ident":null,"authuser":"frank","datetime":"07/Dec/2026:10:00:01 +0000","request":"GET /index.html HTTP/1.1","response":"200","bytes":"2326"}""", output, StringComparison.Ordinal);
        Assert.Contains("""   {"host":"10.0.0.9","ident":null,"authuser":"alice","datetime":"07/Dec/2026:10:00:04 +0000","request":"GET /missing.png HTTP/1.1","response":"404","bytes":null}""", output, StringComparison.Ordinal);
        Assert.Equal(4, Regex.Matches(output, @"^   \{""host"":", RegexOptions.Multiline).Count);
    }

    [Fact]
    public async Task Firehose_transform()
    {
        var output = await Example.RunAsync("firehose-transform");
        Assert.Matches(@"\d{4}/\d{2}/\d{2}/\d{2}/demo-firehose-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36} -\n100\n", output);
        Assert.Contains("INFO\tDecoded payload: 100", output, StringComparison.Ordinal);
        Assert.Contains("Processing completed.  Successful records 1.", output, StringComparison.Ordinal);
    }
}

/// <summary>The examples built on Lambda, the SDKs and the .NET libraries.</summary>
public sealed class SdkExampleTests
{
    [Fact]
    public async Task S3_lambda_stream()
    {
        var output = await Example.RunAsync("s3-lambda-stream");
        Assert.Contains("\"Encryption\": \"KMS\"", output, StringComparison.Ordinal);
        Assert.Matches(@"Put into shardId-000000000000, sequence number \d+, encryption KMS", output);
        var consumers = output[output.IndexOf("== /aws/lambda/consumer-1:", StringComparison.Ordinal)..];
        Assert.Equal(2, Regex.Matches(consumers, Regex.Escape("   b'Hello from S3: this file went through a Lambda producer into an encrypted stream.\\n'")).Count);
    }

    [Fact]
    public async Task Tweet_sentiment()
    {
        var output = await Example.RunAsync("tweet-sentiment");
        Assert.Matches(@"put 300 gzipped tweets: shardId-000000000000 \d+, shardId-000000000001 \d+", output);
        var python = Regex.Match(output, @"python consumer: 300 enriched tweets written to s3://tweets-enriched/enriched/python/ (.+)\n");
        var dotnet = Regex.Match(output, @"\.NET worker: 300 enriched tweets written to s3://tweets-enriched/enriched/dotnet/ (.+)\n");
        Assert.True(python.Success && dotnet.Success, output);
        Assert.Equal(python.Groups[1].Value, dotnet.Groups[1].Value);
        Assert.Contains("   300 tweets in raw/", output, StringComparison.Ordinal);
        Assert.Contains("Total Objects: 600", output, StringComparison.Ordinal);
        Assert.Contains("sentiment positive (2), keywords ['weather'], hashtags ['#bigdata']", output, StringComparison.Ordinal);
        Assert.Equal(3, Regex.Matches(output, "the .NET worker agrees: True").Count);
    }

    [Fact]
    public async Task Kpl_kcl_dotnet()
    {
        var output = await Example.RunAsync("kpl-kcl-dotnet");
        Assert.Contains("numbers 1..10000: 10000 arrived, 0 missing", output, StringComparison.Ordinal);
        Assert.Matches(@"put numbers 1\.\.5000: 5000 user records", output);
        Assert.Matches(@"put numbers 5001\.\.10000: 5000 user records in \d+ Kinesis records \(shardId-000000000001: \d+, shardId-000000000002: \d+, shardId-000000000003: \d+\)", output);
        Assert.Contains("shardId-000000000000 ended (split)", output, StringComparison.Ordinal);
        Assert.Matches(@"SHARD_END\s+\|\s+worker-\d\s+\|\s+shardId-000000000000", output);
        Assert.Contains("worker-1: shut down", output, StringComparison.Ordinal);
        Assert.Contains("worker-2: shut down", output, StringComparison.Ordinal);
    }
}
