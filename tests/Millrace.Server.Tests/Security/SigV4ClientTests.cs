using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;

namespace Millrace.Server.Tests.Security;

/// <summary>
/// <c>--auth sigv4</c> with real clients: boto3, the AWS SDK for JavaScript v3, the AWS CLI and AWSSDK.S3 for .NET.
/// The right key works on every service, over HTTP/1.1 and HTTP/2, with aws-chunked uploads and presigned URLs; an
/// unknown key, a wrong secret, a tampered body, a request 20 minutes old, an expired presigned URL and an inactive key
/// get each service's own error; IAM policies (identity, resource, explicit deny, conditions on source IP and TLS,
/// role sessions, Lambda execution roles, Firehose delivery roles) allow and deny as AWS does.
/// </summary>
public sealed class SigV4ClientTests(SigV4ServerFixture fixture) : IClassFixture<SigV4ServerFixture>
{
    private Dictionary<string, string> Env() => new()
    {
        ["AWS_ENDPOINT_URL"] = fixture.Server.Endpoint,
        ["TLS_ENDPOINT"] = fixture.TlsEndpoint,
        ["ROOT_KEY"] = SigV4ServerFixture.RootKey,
        ["ROOT_SECRET"] = SigV4ServerFixture.RootSecret,
        ["PYTHONWARNINGS"] = "ignore",
        ["PYTHONDONTWRITEBYTECODE"] = "1",
    };

    [Fact]
    public async Task Boto3_every_service_verifies_signatures_with_its_own_errors()
    {
        var summary = await fixture.RunAsync("python3", [SigV4ServerFixture.ClientPath("python", "security_boto3.py"), "matrix"], Env());
        var services = summary.GetProperty("services").EnumerateObject().Select(p => p.Name).Order().ToList();
        Assert.Equal(["dynamodb", "firehose", "glue", "iam", "kinesis", "lambda", "logs", "s3", "sts"], services);
        Assert.Equal("ok", summary.GetProperty("presign").GetString());
        Assert.Equal("arn:aws:iam::000000000000:root", summary.GetProperty("root_arn").GetString());
    }

    [Fact]
    public async Task Boto3_policies_allow_and_deny_as_IAM_evaluates_them()
    {
        var summary = await fixture.RunAsync("python3", [SigV4ServerFixture.ClientPath("python", "policies_boto3.py")], Env());
        Assert.Equal(5, summary.GetProperty("tutorial").GetInt32());
        Assert.Equal("ok", summary.GetProperty("resource_policies").GetString());
        Assert.Equal("ok", summary.GetProperty("roles").GetString());
        Assert.Equal("ok", summary.GetProperty("lambda_role").GetString());
        Assert.Equal("ok", summary.GetProperty("firehose_role").GetString());
        Assert.Equal("ok", summary.GetProperty("mapping_role").GetString());
        Assert.Equal("ok", summary.GetProperty("firehose_source_role").GetString());
        Assert.Equal("ok", summary.GetProperty("firehose_transform_role").GetString());
    }

    [Fact]
    public async Task Js_sdk_signs_over_http2_chunked_uploads_and_event_streams()
    {
        var js = SigV4ServerFixture.ClientPath("js");
        SigV4ServerFixture.ClientPath("js", "node_modules", "@aws-sdk", "client-kinesis");
        var endpoint = fixture.Server.Endpoint;
        var errors = await fixture.RunAsync("node", ["security-sdk.mjs", endpoint, SigV4ServerFixture.RootKey, SigV4ServerFixture.RootSecret], workingDirectory: js);
        Assert.Equal("ok", errors.GetProperty("s3").GetString());
        Assert.Equal("ok", errors.GetProperty("object").GetString());

        // The existing SDK flows, now verified: h2 Kinesis (with a hand-signed raw h2 request), SubscribeToShard, S3 aws-chunked with trailers.
        var kinesis = await fixture.RunAsync("node", ["kinesis-sdk.mjs", endpoint, "js-sigv4-h2", "h2"], workingDirectory: js);
        Assert.True(kinesis.GetProperty("ok").GetBoolean());
        Assert.Equal(76, kinesis.GetProperty("received").GetInt32());
        var subscribe = await fixture.RunAsync("node", ["subscribe-sdk.mjs", endpoint, "js-sigv4-efo"], workingDirectory: js);
        Assert.True(subscribe.GetProperty("ok").GetBoolean());
        var s3 = await fixture.RunAsync("node", ["s3-sdk.mjs", endpoint, "js-sigv4-s3"], workingDirectory: js);
        Assert.True(s3.GetProperty("ok").GetBoolean());
        Assert.Equal("STREAMING-UNSIGNED-PAYLOAD-TRAILER", s3.GetProperty("stream_wire").GetProperty("sha").GetString());
    }

    [Fact]
    public async Task Aws_cli_manages_users_and_is_denied_until_a_policy_allows()
    {
        var identity = await CliAsync(null, "sts", "get-caller-identity");
        Assert.Contains("\"arn:aws:iam::000000000000:root\"", identity.StdOut, StringComparison.Ordinal);
        await CliAsync(null, "iam", "create-user", "--user-name", "cli-user");
        var created = await CliAsync(null, "iam", "create-access-key", "--user-name", "cli-user");
        using var key = System.Text.Json.JsonDocument.Parse(created.StdOut);
        var id = key.RootElement.GetProperty("AccessKey").GetProperty("AccessKeyId").GetString()!;
        var secret = key.RootElement.GetProperty("AccessKey").GetProperty("SecretAccessKey").GetString()!;

        var denied = await FailingCliAsync((id, secret), "kinesis", "list-streams");
        Assert.Contains("AccessDeniedException", denied.StdErr, StringComparison.Ordinal);
        Assert.Contains("User: arn:aws:iam::000000000000:user/cli-user is not authorized to perform: kinesis:ListStreams", denied.StdErr, StringComparison.Ordinal);
        await CliAsync(null, "iam", "attach-user-policy", "--user-name", "cli-user", "--policy-arn", "arn:aws:iam::aws:policy/AmazonKinesisReadOnlyAccess");
        var attached = await CliAsync(null, "iam", "list-attached-user-policies", "--user-name", "cli-user");
        Assert.Contains("AmazonKinesisReadOnlyAccess", attached.StdOut, StringComparison.Ordinal);
        await CliAsync((id, secret), "kinesis", "list-streams");
        var own = await CliAsync((id, secret), "sts", "get-caller-identity");
        Assert.Contains("\"arn:aws:iam::000000000000:user/cli-user\"", own.StdOut, StringComparison.Ordinal);

        var wrong = await FailingCliAsync((id, secret + "x"), "kinesis", "list-streams");
        Assert.Contains("InvalidSignatureException", wrong.StdErr, StringComparison.Ordinal);
        await CliAsync(null, "iam", "update-access-key", "--user-name", "cli-user", "--access-key-id", id, "--status", "Inactive");
        var inactive = await FailingCliAsync((id, secret), "kinesis", "list-streams");
        Assert.Contains("UnrecognizedClientException", inactive.StdErr, StringComparison.Ordinal);
        var s3Inactive = await FailingCliAsync((id, secret), "s3api", "list-buckets");
        Assert.Contains("InvalidAccessKeyId", s3Inactive.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dotnet_s3_sdk_chunk_signed_uploads_are_verified()
    {
        using var s3 = new AmazonS3Client(new BasicAWSCredentials(SigV4ServerFixture.RootKey, SigV4ServerFixture.RootSecret),
            new AmazonS3Config { ServiceURL = fixture.Server.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        await s3.PutBucketAsync(new PutBucketRequest { BucketName = "net-sigv4" });
        var body = new byte[300_000];
        new Random(7).NextBytes(body);
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = "net-sigv4", Key = "one.bin", InputStream = new MemoryStream(body) });
        using (var transfer = new TransferUtility(s3))
        {
            await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = "net-sigv4", Key = "big.bin", InputStream = new MemoryStream(new byte[11 * 1024 * 1024]), PartSize = 5 * 1024 * 1024 });
        }

        using (var got = await s3.GetObjectAsync("net-sigv4", "one.bin"))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy);
            Assert.Equal(body, copy.ToArray());
        }

        Assert.Equal(11 * 1024 * 1024, (await s3.GetObjectMetadataAsync("net-sigv4", "big.bin")).ContentLength);
        using var wrong = new AmazonS3Client(new BasicAWSCredentials(SigV4ServerFixture.RootKey, SigV4ServerFixture.RootSecret + "x"),
            new AmazonS3Config { ServiceURL = fixture.Server.Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => wrong.PutObjectAsync(new PutObjectRequest { BucketName = "net-sigv4", Key = "no.bin", InputStream = new MemoryStream(body) }));
        Assert.Equal("SignatureDoesNotMatch", error.ErrorCode);
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, error.StatusCode);
    }

    private Task<ExternalTool.Result> CliAsync((string Id, string Secret)? key, params string[] args) => CliAsync(key, false, args);

    private Task<ExternalTool.Result> FailingCliAsync((string Id, string Secret)? key, params string[] args) => CliAsync(key, true, args);

    /// <summary>Runs the AWS CLI with a key (null: the root's), requiring it to succeed or to fail.</summary>
    private async Task<ExternalTool.Result> CliAsync((string Id, string Secret)? key, bool expectFailure, string[] args)
    {
        var env = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = key?.Id ?? SigV4ServerFixture.RootKey,
            ["AWS_SECRET_ACCESS_KEY"] = key?.Secret ?? SigV4ServerFixture.RootSecret,
            ["AWS_MAX_ATTEMPTS"] = "1",
        };
        var result = await ExternalTool.RunAsync("/usr/bin/aws",
            ["--endpoint-url", fixture.Server.Endpoint, "--region", "us-east-1", "--output", "json", "--no-cli-pager", .. args], env, timeout: TimeSpan.FromSeconds(60));
        Assert.True(expectFailure ? result.ExitCode != 0 : result.ExitCode == 0, $"aws {string.Join(' ', args)}\n{result}");
        return result;
    }
}
