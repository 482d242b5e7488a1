using System.Text;
using System.Text.Json;
using Millrace.Client.Auth;

namespace Millrace.Client.Tests;

/// <summary>The signer against AWS's published SigV4 test suite (SigV4TestSuite/README.md says where each vector
/// comes from), one test per vector.</summary>
public sealed class SigV4SignerTests
{
    private static JsonElement Suite => SigV4Vectors.Suite;

    public static TheoryData<string> VectorNames() => [.. SigV4Vectors.Names()];

    private static JsonElement Vector(string name) => SigV4Vectors.Vector(name);

    private static AwsCredentials Credentials(string? token = null) => new(SigV4Vectors.AccessKeyId, SigV4Vectors.SecretAccessKey, token);

    private static (string Method, string Path, string Query, List<KeyValuePair<string, string>> Headers, byte[] Body) Parse(string request)
    {
        var r = SigV4Vectors.Parse(request);
        return (r.Method, r.Path, r.Query, r.Headers, r.Body);
    }

    [Theory]
    [MemberData(nameof(VectorNames))]
    public void Signs_the_suite_vector(string name)
    {
        var vector = Vector(name);
        var (method, path, query, headers, body) = Parse(vector.GetProperty("request").GetString()!);
        var signature = SigV4Signer.Compute(method, path, query, headers, SigV4Signer.PayloadHash(body), Credentials(),
            Suite.GetProperty("region").GetString()!, Suite.GetProperty("service").GetString()!, Suite.GetProperty("date").GetString()!);

        if (vector.TryGetProperty("canonicalRequest", out var canonical))
            Assert.Equal(canonical.GetString(), signature.CanonicalRequest);
        if (vector.TryGetProperty("stringToSign", out var stringToSign))
            Assert.Equal(stringToSign.GetString(), signature.StringToSign);
        Assert.Equal(vector.GetProperty("authorization").GetString(), signature.Authorization);
    }

    /// <summary>The same vectors through an HttpRequestMessage, as the client signs: the signer adds X-Amz-Date and
    /// the session token itself.</summary>
    [Theory]
    [InlineData("get-vanilla-query-order-key-case", null)]
    [InlineData("get-header-key-duplicate", null)]
    [InlineData("post-x-www-form-urlencoded", null)]
    [InlineData("get-vanilla-with-session-token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")]
    public void Signs_an_HttpRequestMessage_like_the_suite(string name, string? token)
    {
        var vector = Vector(name);
        var (method, path, query, headers, body) = Parse(vector.GetProperty("request").GetString()!);
        using var request = new HttpRequestMessage(new HttpMethod(method), "https://example.amazonaws.com" + path + query);
        foreach (var (header, value) in headers)
        {
            if (header is "Host" or "X-Amz-Date" or "X-Amz-Security-Token")
                continue;
            if (header == "Content-Type")
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.TryAddWithoutValidation(header, value);
            }
            else
                request.Headers.TryAddWithoutValidation(header, value);
        }

        var signature = SigV4Signer.Sign(request, body, Credentials(token), "us-east-1", "service",
            new DateTimeOffset(2015, 8, 30, 12, 36, 0, TimeSpan.Zero));
        if (vector.TryGetProperty("canonicalRequest", out var canonical))
            Assert.Equal(canonical.GetString(), signature.CanonicalRequest);
        Assert.Equal(vector.GetProperty("authorization").GetString(), request.Headers.GetValues("Authorization").Single());
        Assert.Equal("20150830T123600Z", request.Headers.GetValues("X-Amz-Date").Single());
        Assert.Equal(token is not null, request.Headers.Contains("X-Amz-Security-Token"));
    }

    [Fact]
    public void A_path_sent_percent_encoded_is_encoded_again_and_the_query_encoding_does_not_matter()
    {
        // What .NET sends for "/example space/" is "/example%20space/"; a non-S3 service signs it as "%2520".
        using var request = new HttpRequestMessage(HttpMethod.Get, "https://example.amazonaws.com/example space/?b=x y&a=%7e");
        var signature = SigV4Signer.Sign(request, [], Credentials(), "us-east-1", "service", DateTimeOffset.UnixEpoch);
        var lines = signature.CanonicalRequest.Split('\n');
        Assert.Equal("/example%2520space/", lines[1]);
        Assert.Equal("a=~&b=x%20y", lines[2]);
    }

    [Fact]
    public void The_signing_key_matches_the_documented_derivation_example()
    {
        // From AWS's "Deriving the signing key" documentation example (iam, us-east-1, 20120215).
        var key = SigV4Signer.SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        Assert.Equal("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d", Convert.ToHexStringLower(key));
    }
}
