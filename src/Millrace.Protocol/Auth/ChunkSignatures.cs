using System.Security.Cryptography;
using System.Text;

namespace Millrace.Protocol.Auth;

/// <summary>Thrown when a chunk or trailer signature of an <c>aws-chunked</c> body is not the one the verified
/// request's key gives.</summary>
public sealed class ChunkSignatureMismatchException(string message) : Exception(message);

/// <summary>
/// Checks the signatures of an <c>aws-chunked</c> body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) as it is
/// decoded: each chunk's signature chains the previous one (the seed is the request's signature), so no chunk can be
/// dropped, reordered or altered. The decoder calls <see cref="BeginChunk"/>, <see cref="Append"/> for the chunk's
/// bytes and <see cref="EndChunk"/>; the final zero-length chunk is a chunk too; then <see cref="VerifyTrailer"/>.
/// </summary>
public sealed class ChunkSignatures(byte[] signingKey, string amzDate, string scope, string seedSignature, bool trailer)
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private string _previous = seedSignature;
    private string? _claimed;

    /// <summary>True for the <c>…-TRAILER</c> form, whose trailer carries <c>x-amz-trailer-signature</c>.</summary>
    public bool SignedTrailer => trailer;

    /// <summary>Starts a chunk whose header carried <c>chunk-signature=</c><paramref name="signature"/> (null: none).</summary>
    public void BeginChunk(string? signature)
    {
        _claimed = signature ?? throw new ChunkSignatureMismatchException("The chunk carries no chunk-signature.");
    }

    public void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);

    public void EndChunk()
    {
        var chunkHash = Convert.ToHexStringLower(_hash.GetHashAndReset());
        var expected = SigV4Canonical.Sign(signingKey, SigV4Canonical.ChunkStringToSign(amzDate, scope, _previous, chunkHash));
        if (!FixedTimeEquals(expected, _claimed))
        {
            throw new ChunkSignatureMismatchException("The request signature we calculated does not match the signature you provided.");
        }

        _previous = expected;
    }

    /// <summary>Checks <c>x-amz-trailer-signature</c> over the other trailer lines (<c>name:value\n</c>, as sent).</summary>
    public void VerifyTrailer(IEnumerable<KeyValuePair<string, string>> trailers, string? signature)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in trailers)
        {
            if (!name.Equals("x-amz-trailer-signature", StringComparison.OrdinalIgnoreCase))
            {
                text.Append(name.ToLowerInvariant()).Append(':').Append(value).Append('\n');
            }
        }

        var expected = SigV4Canonical.Sign(signingKey,
            SigV4Canonical.TrailerStringToSign(amzDate, scope, _previous, SigV4Canonical.PayloadHash(Encoding.UTF8.GetBytes(text.ToString()))));
        if (!FixedTimeEquals(expected, signature))
        {
            throw new ChunkSignatureMismatchException("The trailer signature we calculated does not match the signature you provided.");
        }
    }

    /// <summary>Constant-time comparison of two hex signatures.</summary>
    public static bool FixedTimeEquals(string expected, string? provided) =>
        provided is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(provided));
}
