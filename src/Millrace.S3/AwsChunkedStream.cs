using System.Buffers;
using System.Globalization;
using System.Text;
using Millrace.Protocol.Auth;

namespace Millrace.S3;

/// <summary>
/// Decodes an <c>aws-chunked</c> request body as it streams: <c>hex-size[;chunk-signature=…]\r\n data \r\n</c>
/// chunks, a final zero-size chunk, then (for the <c>…-TRAILER</c> payloads) trailer lines
/// <c>name:value\r\n</c> and an empty line. With <see cref="ChunkSignatures"/> (a verified STREAMING-AWS4-HMAC-SHA256
/// request) every chunk's signature and the trailer's are checked as the body streams.
/// Framing errors raise <see cref="S3Exception"/>; a body that ends early raises IncompleteBody.
/// </summary>
internal sealed class AwsChunkedStream : Stream
{
    private const int MaxLine = 8 * 1024;

    private readonly Stream _inner;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private long _remaining;
    private State _state = State.Header;

    private readonly ChunkSignatures? _signatures;

    public AwsChunkedStream(Stream inner, ChunkSignatures? signatures = null, int bufferSize = 64 * 1024)
    {
        _inner = inner;
        _signatures = signatures;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bufferSize, MaxLine + 16));
    }

    private enum State
    {
        Header,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    /// <summary>The trailer headers (lower-case names), complete once the stream has returned 0.</summary>
    public Dictionary<string, string> Trailers { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Decoded bytes returned so far.</summary>
    public long DecodedLength { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => DecodedLength; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadCoreAsync(buffer.AsMemory(offset, count), sync: true, default).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = Read(rented, 0, buffer.Length);
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadCoreAsync(buffer.AsMemory(offset, count), sync: false, cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadCoreAsync(buffer, sync: false, cancellationToken);

    private async ValueTask<int> ReadCoreAsync(Memory<byte> destination, bool sync, CancellationToken ct)
    {
        if (destination.Length == 0)
        {
            return 0;
        }

        while (true)
        {
            switch (_state)
            {
                case State.Header:
                {
                    var line = await ReadLineAsync(sync, ct) ?? throw S3Errors.IncompleteBody();
                    _remaining = ParseChunkSize(line);
                    _signatures?.BeginChunk(ChunkSignature(line));
                    if (_remaining == 0)
                    {
                        _signatures?.EndChunk();
                    }

                    _state = _remaining == 0 ? State.Trailers : State.Data;
                    break;
                }

                case State.Data:
                {
                    int n;
                    if (_end > _start)
                    {
                        n = (int)Math.Min(Math.Min(_remaining, destination.Length), _end - _start);
                        _buffer.AsMemory(_start, n).CopyTo(destination);
                        _start += n;
                    }
                    else
                    {
                        // Large reads go straight from the inner stream into the caller's buffer.
                        var target = destination[..(int)Math.Min(_remaining, destination.Length)];
                        n = sync ? _inner.Read(target.Span) : await _inner.ReadAsync(target, ct);
                        if (n == 0)
                        {
                            throw S3Errors.IncompleteBody();
                        }
                    }

                    _signatures?.Append(destination.Span[..n]);
                    _remaining -= n;
                    DecodedLength += n;
                    if (_remaining == 0)
                    {
                        _state = State.DataEnd;
                    }

                    return n;
                }

                case State.DataEnd:
                {
                    var line = await ReadLineAsync(sync, ct) ?? throw S3Errors.IncompleteBody();
                    if (line.Length != 0)
                    {
                        throw S3Errors.InvalidChunk("chunk data is not followed by CRLF");
                    }

                    _signatures?.EndChunk();
                    _state = State.Header;
                    break;
                }

                case State.Trailers:
                {
                    var line = await ReadLineAsync(sync, ct);
                    if (line is null || line.Length == 0)
                    {
                        _state = State.Done;
                        if (_signatures is { SignedTrailer: true })
                        {
                            _signatures.VerifyTrailer(Trailers.Where(t => !t.Key.Equals("x-amz-trailer-signature", StringComparison.OrdinalIgnoreCase)),
                                Trailers.GetValueOrDefault("x-amz-trailer-signature"));
                        }

                        break;
                    }

                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon <= 0)
                    {
                        throw S3Errors.InvalidChunk("malformed trailer");
                    }

                    Trailers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
                    break;
                }

                default:
                    return 0;
            }
        }
    }

    /// <summary>The <c>chunk-signature=</c> extension of a chunk header line, or null.</summary>
    private static string? ChunkSignature(string line)
    {
        const string Key = "chunk-signature=";
        int at = line.IndexOf(Key, StringComparison.Ordinal);
        return at < 0 ? null : line[(at + Key.Length)..].Trim();
    }

    private static long ParseChunkSize(string line)
    {
        int semicolon = line.IndexOf(';', StringComparison.Ordinal);
        var hex = (semicolon >= 0 ? line[..semicolon] : line).Trim();
        if (hex.Length == 0 || hex.Length > 15 || !long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long size) || size < 0)
        {
            throw S3Errors.InvalidChunk("malformed chunk size");
        }

        return size;
    }

    /// <summary>The next CRLF- (or LF-) terminated line without its terminator; null at the end of the body.</summary>
    private async ValueTask<string?> ReadLineAsync(bool sync, CancellationToken ct)
    {
        while (true)
        {
            int lf = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (lf >= 0)
            {
                int stop = lf > _start && _buffer[lf - 1] == '\r' ? lf - 1 : lf;
                var line = Encoding.ASCII.GetString(_buffer, _start, stop - _start);
                _start = lf + 1;
                return line;
            }

            if (_end - _start >= MaxLine)
            {
                throw S3Errors.InvalidChunk("chunk header line too long");
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            var free = _buffer.AsMemory(_end);
            int n = sync ? _inner.Read(free.Span) : await _inner.ReadAsync(free, ct);
            if (n == 0)
            {
                if (_end > _start)
                {
                    // A last line without its terminator.
                    var rest = Encoding.ASCII.GetString(_buffer, _start, _end - _start).TrimEnd('\r');
                    _start = _end;
                    return rest;
                }

                return null;
            }

            _end += n;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }

        base.Dispose(disposing);
    }
}
