using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Millrace.Gateway.Authentication;
using Millrace.Protocol.Auth;

namespace Millrace.Gateway.Tests;

/// <summary>
/// The front door's verifier against AWS's published SigV4 vectors (the same ones the client's signer is tested
/// with): each signed request is accepted as received, and the same request with one byte changed, an unknown key,
/// a wrong secret, a request 20 minutes old or a session token that is not the key's is refused with AWS's code.
/// </summary>
public sealed class SigV4VerifierTests
{
    private static readonly DateTimeOffset SuiteTime = DateTimeOffset.ParseExact("20150830T123600Z", "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture,
        DateTimeStyles.AssumeUniversal);

    private static readonly NamedService Service = new("service", new ServiceRoutes());

    public static TheoryData<string> VectorNames() => [.. SigV4Vectors.Names()];

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private sealed class Keys(string? secret, string? token) : IAccessKeys
    {
        public ValueTask<SigningKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(accessKeyId == SigV4Vectors.AccessKeyId && secret is not null
                ? new SigningKey(accessKeyId, secret, new CallerIdentity(PrincipalKind.User, "000000000000", "arn:aws:iam::000000000000:user/suite", "AIDASUITE", accessKeyId, "suite"),
                    SessionToken: token, Expiration: token is null ? null : SuiteTime.AddHours(1))
                : null);
    }

    /// <summary>An ASP.NET request as Kestrel would hand it over: the raw target, the headers in order, the body.</summary>
    private static DefaultHttpContext Request(string name, Func<string, string>? tamperTarget = null, Func<byte[], byte[]>? tamperBody = null)
    {
        var vector = SigV4Vectors.Vector(name);
        var request = SigV4Vectors.Parse(vector.GetProperty("request").GetString()!);
        var http = new DefaultHttpContext();
        var target = request.Path + request.Query;
        target = tamperTarget?.Invoke(target) ?? target;
        var feature = http.Features.Get<IHttpRequestFeature>()!;
        feature.Method = request.Method;
        feature.RawTarget = target;
        int q = target.IndexOf('?', StringComparison.Ordinal);
        feature.Path = q < 0 ? target : target[..q];
        feature.QueryString = q < 0 ? "" : target[q..];
        foreach (var (header, value) in request.Headers)
        {
            http.Request.Headers.Append(header, value);
        }

        http.Request.Headers.Authorization = vector.GetProperty("authorization").GetString();
        var body = tamperBody?.Invoke(request.Body) ?? request.Body;
        http.Request.Body = new MemoryStream(body);
        http.Request.ContentLength = body.Length;
        return http;
    }

    private static string? Token(string name) =>
        SigV4Vectors.Parse(SigV4Vectors.Vector(name).GetProperty("request").GetString()!).Headers
            .FirstOrDefault(h => h.Key.Equals("X-Amz-Security-Token", StringComparison.OrdinalIgnoreCase)).Value;

    private static Task<Millrace.Protocol.Wire.ServiceException?> VerifyAsync(HttpContext http, string? secret, string? token, DateTimeOffset? now = null) =>
        new RequestAuthenticator(new Keys(secret, token), new FixedClock(now ?? SuiteTime)).AuthenticateAsync(http, Service);

    [Theory]
    [MemberData(nameof(VectorNames))]
    public async Task Accepts_the_suite_vector_as_signed(string name)
    {
        var http = Request(name);
        var failure = await VerifyAsync(http, SigV4Vectors.SecretAccessKey, Token(name));
        Assert.True(failure is null, $"{name}: {failure?.Code} {failure?.ErrorMessage}");
        Assert.Equal("arn:aws:iam::000000000000:user/suite", http.Features.Get<CallerIdentity>()?.Arn);
    }

    [Theory]
    [MemberData(nameof(VectorNames))]
    public async Task Refuses_the_suite_vector_changed_or_signed_by_another_key(string name)
    {
        var secret = SigV4Vectors.SecretAccessKey;
        var token = Token(name);
        var tampered = await VerifyAsync(Request(name, tamperTarget: t => t.Contains('?', StringComparison.Ordinal) ? t + "&x=1" : t + "?x=1"), secret, token);
        Assert.Equal("InvalidSignatureException", tampered?.Code);
        Assert.Equal(400, tampered?.Status);
        var wrongSecret = await VerifyAsync(Request(name), secret + "x", token);
        Assert.Equal("InvalidSignatureException", wrongSecret?.Code);
        Assert.Equal("UnrecognizedClientException", (await VerifyAsync(Request(name), null, token))?.Code);
        var late = await VerifyAsync(Request(name), secret, token, SuiteTime.AddMinutes(20));
        Assert.Equal("InvalidSignatureException", late?.Code);
        Assert.StartsWith("Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T125600Z - 15 min.)", late?.ErrorMessage);
        Assert.Null(await VerifyAsync(Request(name), secret, token, SuiteTime.AddMinutes(14)));
        var otherToken = await VerifyAsync(Request(name), secret, "not-this-token");
        Assert.Equal("UnrecognizedClientException", otherToken?.Code);
    }

    [Fact]
    public async Task A_changed_body_is_refused()
    {
        var failure = await VerifyAsync(Request("post-x-www-form-urlencoded", tamperBody: b => [.. b, (byte)'&']), SigV4Vectors.SecretAccessKey, null);
        Assert.Equal("InvalidSignatureException", failure?.Code);
    }

    [Fact]
    public async Task Chunk_signatures_chain_and_catch_a_changed_chunk()
    {
        // The shape of S3's documented STREAMING-AWS4-HMAC-SHA256-PAYLOAD example (64 KiB of 'a', 1 KiB, the final chunk);
        // the expected chain was computed apart from this code (Python's hmac, from the documented string to sign). The
        // AWS SDK for .NET's chunked uploads check the same code end to end (Security tests).
        var key = SigV4Canonical.SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3");
        const string Seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
        string[] expected =
        [
            "61ed74d76ad0a0a3cd61199c82a3112c3c90ec6bf34d8b2c625093a11e569c2b",
            "1bc5ec3a09ab65cbdd970c67f8744614b27f6f762e6f7b998405f4c8b577a685",
            "7cd0adc4c8559a39c487847ea89a4137b7653d47264e872e48d980f945fc3927",
        ];
        var chunks = new ChunkSignatures(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", Seed, trailer: false);
        byte[][] data = [Enumerable.Repeat((byte)'a', 65536).ToArray(), Enumerable.Repeat((byte)'a', 1024).ToArray(), []];
        for (int i = 0; i < data.Length; i++)
        {
            chunks.BeginChunk(expected[i]);
            chunks.Append(data[i]);
            chunks.EndChunk();
        }

        var altered = new ChunkSignatures(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", Seed, trailer: false);
        altered.BeginChunk(expected[0]);
        altered.Append(Encoding.ASCII.GetBytes(new string('a', 65535) + "b"));
        Assert.Throws<ChunkSignatureMismatchException>(altered.EndChunk);

        var skipped = new ChunkSignatures(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request", Seed, trailer: false);
        skipped.BeginChunk(expected[1]);
        skipped.Append(data[1]);
        Assert.Throws<ChunkSignatureMismatchException>(skipped.EndChunk);
    }
}
