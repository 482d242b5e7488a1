using System.Security.Cryptography;

namespace Millrace.Gateway.Authentication;

/// <summary>Thrown at the end of an S3 body that does not hash to the <c>x-amz-content-sha256</c> the request signed.</summary>
public sealed class ContentHashMismatchException(string claimed, string computed)
    : Exception("The provided 'x-amz-content-sha256' header does not match what was computed.")
{
    public string Claimed { get; } = claimed;

    public string Computed { get; } = computed;
}

/// <summary>
/// A request body that hashes what it passes on and, when the body ends, throws
/// <see cref="ContentHashMismatchException"/> if it was not what the signature covered: the body streams (objects are
/// gigabytes) and is refused before the service commits it.
/// </summary>
internal sealed class ContentHashStream(Stream inner, string claimedHex) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        Observe(buffer[..n], buffer.Length);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await inner.ReadAsync(buffer, cancellationToken);
        Observe(buffer.Span[..n], buffer.Length);
        return n;
    }

    // A read of nothing into a non-empty buffer is the end of the body.
    private void Observe(ReadOnlySpan<byte> data, int asked)
    {
        if (data.Length > 0)
        {
            _hash.AppendData(data);
            return;
        }

        if (!_checked && asked > 0)
        {
            _checked = true;
            var computed = Convert.ToHexStringLower(_hash.GetHashAndReset());
            if (!string.Equals(computed, claimedHex, StringComparison.OrdinalIgnoreCase))
            {
                throw new ContentHashMismatchException(claimedHex, computed);
            }
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
