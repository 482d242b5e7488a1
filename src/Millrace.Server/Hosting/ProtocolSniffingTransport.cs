using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Millrace.Server.Hosting;

/// <summary>
/// One of the two faces of a shared TCP port: Kestrel binds one endpoint with HTTP/1.1 and one with HTTP/2 (prior
/// knowledge), and the transport hands each accepted connection to the face its first bytes ask for.
/// </summary>
public sealed class SniffedEndPoint(SharedPort port, bool http2) : EndPoint
{
    public SharedPort Port { get; } = port;

    public bool Http2 { get; } = http2;

    public override string ToString() => $"{Port.Requested} ({(Http2 ? "h2c" : "http/1.1")})";
}

/// <summary>The real socket address both faces share; <see cref="Bound"/> is known once Kestrel has bound it.</summary>
public sealed class SharedPort(IPEndPoint requested)
{
    public IPEndPoint Requested { get; } = requested;

    public IPEndPoint? Bound { get; internal set; }
}

/// <summary>
/// Serves HTTP/1.1 and HTTP/2 cleartext with prior knowledge (h2c) on one port. Kestrel serves both on one
/// cleartext endpoint only through ALPN, which needs TLS, so this transport accepts on the socket itself, peeks at
/// the first bytes of each connection (nothing is consumed) and routes it: the 24-byte HTTP/2 client preface goes
/// to the HTTP/2 endpoint, anything else to the HTTP/1.1 one. The AWS SDK for JavaScript v3 uses h2c for every
/// call; the AWS CLI and boto3 use HTTP/1.1.
/// </summary>
public sealed class ProtocolSniffingTransportFactory(IOptions<SocketTransportOptions> socketOptions, ILoggerFactory loggerFactory)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private static readonly TimeSpan SniffTimeout = TimeSpan.FromSeconds(30);
    private readonly SocketTransportFactory _sockets = new(socketOptions, loggerFactory);
    private readonly ConcurrentDictionary<SharedPort, Acceptor> _acceptors = new();
    private readonly ILogger _logger = loggerFactory.CreateLogger<ProtocolSniffingTransportFactory>();

    public bool CanBind(EndPoint endpoint) => endpoint is SniffedEndPoint;

    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var face = (SniffedEndPoint)endpoint;
        var acceptor = _acceptors.GetOrAdd(face.Port, p => new Acceptor(p, this));
        await acceptor.StartAsync(cancellationToken);
        return acceptor.Face(face);
    }

    private enum Verdict { Http1, Http2, NeedMore }

    private static Verdict Check(ReadOnlySequence<byte> buffer)
    {
        var length = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[Preface.Length];
        buffer.Slice(0, length).CopyTo(head);
        if (!head[..length].SequenceEqual(Preface.AsSpan(0, length)))
        {
            return Verdict.Http1;
        }

        return length == Preface.Length ? Verdict.Http2 : Verdict.NeedMore;
    }

    /// <summary>Owns the real listener and the two queues of routed connections.</summary>
    private sealed class Acceptor(SharedPort port, ProtocolSniffingTransportFactory factory)
    {
        private readonly SemaphoreSlim _startLock = new(1, 1);
        private readonly Channel<ConnectionContext> _http1 = Channel.CreateUnbounded<ConnectionContext>();
        private readonly Channel<ConnectionContext> _http2 = Channel.CreateUnbounded<ConnectionContext>();
        private IConnectionListener? _listener;
        private int _openFaces;

        public async Task StartAsync(CancellationToken ct)
        {
            await _startLock.WaitAsync(ct);
            try
            {
                _openFaces++;
                if (_listener is not null)
                {
                    return;
                }

                _listener = await factory._sockets.BindAsync(port.Requested, ct);
                port.Bound = (IPEndPoint)_listener.EndPoint;
                _ = Task.Run(AcceptLoopAsync, CancellationToken.None);
            }
            finally
            {
                _startLock.Release();
            }
        }

        public IConnectionListener Face(SniffedEndPoint face) => new FaceListener(this, face, face.Http2 ? _http2 : _http1);

        private async Task AcceptLoopAsync()
        {
            while (_listener is { } listener)
            {
                ConnectionContext? connection;
                try
                {
                    connection = await listener.AcceptAsync();
                }
                catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException)
                {
                    break;
                }

                if (connection is null)
                {
                    break; // unbound
                }

                _ = Task.Run(() => RouteAsync(connection));
            }

            _http1.Writer.TryComplete();
            _http2.Writer.TryComplete();
        }

        private async Task RouteAsync(ConnectionContext connection)
        {
            try
            {
                using var timeout = new CancellationTokenSource(SniffTimeout);
                var input = connection.Transport.Input;
                while (true)
                {
                    var result = await input.ReadAsync(timeout.Token);
                    var verdict = Check(result.Buffer);
                    if (verdict == Verdict.NeedMore && !result.IsCompleted)
                    {
                        input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                        continue;
                    }

                    input.AdvanceTo(result.Buffer.Start); // nothing consumed: the HTTP layer reads it all again
                    var queue = verdict == Verdict.Http2 ? _http2 : _http1;
                    if (!queue.Writer.TryWrite(connection))
                    {
                        await connection.DisposeAsync();
                    }

                    return;
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or ConnectionResetException)
            {
                factory._logger.LogDebug(ex, "Connection closed before its protocol was known");
                await connection.DisposeAsync();
            }
        }

        public async ValueTask CloseFaceAsync()
        {
            await _startLock.WaitAsync();
            try
            {
                if (--_openFaces == 0 && _listener is { } listener)
                {
                    _listener = null;
                    await listener.UnbindAsync();
                    await listener.DisposeAsync();
                    factory._acceptors.TryRemove(port, out _);
                }
            }
            finally
            {
                _startLock.Release();
            }
        }
    }

    private sealed class FaceListener(Acceptor acceptor, SniffedEndPoint face, Channel<ConnectionContext> queue) : IConnectionListener
    {
        private int _closed;

        public EndPoint EndPoint => face;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            try
            {
                return await queue.Reader.ReadAsync(cancellationToken);
            }
            catch (ChannelClosedException)
            {
                return null;
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => CloseAsync();

        public ValueTask DisposeAsync() => CloseAsync();

        private ValueTask CloseAsync() => Interlocked.Exchange(ref _closed, 1) == 0 ? acceptor.CloseFaceAsync() : ValueTask.CompletedTask;
    }
}
