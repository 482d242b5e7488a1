using System.Net;
using System.Net.Sockets;
using System.Text;
using FsCheck.Xunit;
using Millrace.Client.Auth;

namespace Millrace.Client.Tests;

/// <summary>Retries: throttling from a real server run with --enforce-limits, 5xx and broken connections from a
/// scripted loopback endpoint (AWS cannot be made to answer 5xx on demand, so that part needs a stand-in).</summary>
public sealed class RetryTests
{
    private static AwsClientOptions Options(string endpoint, int maxErrorRetry, HttpMessageHandler? handler = null, TimeSpan? baseDelay = null) => new()
    {
        Region = "us-east-1",
        ServiceUrl = new Uri(endpoint),
        Credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACETEST", "millrace-test-secret")),
        MaxErrorRetry = maxErrorRetry,
        RetryBaseDelay = baseDelay ?? TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(baseDelay is null ? 400 : baseDelay.Value.TotalMilliseconds * 1000),
        HttpHandler = handler,
    };

    [Property]
    public bool Backoff_is_a_random_wait_below_base_times_two_to_the_attempt_capped(byte attempt)
    {
        using var client = new KinesisClient(new AwsClientOptions
        {
            Region = "us-east-1", ServiceUrl = new Uri("http://127.0.0.1:9"),
            Credentials = new StaticCredentialsProvider(new AwsCredentials("a", "b")),
            RetryBaseDelay = TimeSpan.FromMilliseconds(100), MaxRetryDelay = TimeSpan.FromSeconds(20),
        });
        var delay = client.Transport.BackoffDelay(attempt);
        var ceiling = Math.Min(20_000, 100 * Math.Pow(2, attempt));
        return delay >= TimeSpan.Zero && delay.TotalMilliseconds < ceiling;
    }

    [Fact]
    public async Task Throttled_PutRecord_calls_are_retried_until_they_succeed_and_fail_without_retries()
    {
        await using var server = await MillraceProcess.StartAsync("--enforce-limits", "--shard-write-records-per-sec", "5");
        var counter = new CountingHandler();
        using var client = new KinesisClient(Options(server.Endpoint, maxErrorRetry: 30, counter));
        var stream = ClientServerFixture.UniqueName("throttle");
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = 1 });
        counter.Reset();

        const int records = 12; // at 5 records/s per shard: most calls are throttled at least once
        var puts = Enumerable.Range(0, records).Select(i => client.PutRecordAsync(new PutRecordRequest
        {
            StreamName = stream, PartitionKey = "k", Data = Encoding.UTF8.GetBytes("r" + i),
        }));
        var results = await Task.WhenAll(puts);
        Assert.All(results, r => Assert.StartsWith("shardId-", r.ShardId, StringComparison.Ordinal));
        Assert.True(counter.Count > records, $"expected retries: {counter.Count} requests for {records} records");

        using var noRetries = new KinesisClient(Options(server.Endpoint, maxErrorRetry: 0));
        var e = await Assert.ThrowsAsync<ProvisionedThroughputExceededException>(async () =>
        {
            for (var i = 0; i < 50; i++) // bounded: the shard's 5/s is spent long before
                await noRetries.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = [1] });
        });
        Assert.Equal(400, e.StatusCode);
        Assert.True(e.IsRetryable);
    }

    [Fact]
    public async Task Two_500s_then_success_is_a_success_after_three_attempts()
    {
        await using var endpoint = ScriptedEndpoint.Start((n, _) => n < 2 ? Error(500, "InternalFailure") : Ok(Limits));
        using var client = new KinesisClient(Options(endpoint.Url, maxErrorRetry: 3));
        var limits = await client.DescribeLimitsAsync(new DescribeLimitsRequest());
        Assert.Equal(7, limits.ShardLimit);
        Assert.Equal(3, endpoint.Requests);
        Assert.All(endpoint.Targets, t => Assert.Equal("Kinesis_20131202.DescribeLimits", t));
    }

    [Fact]
    public async Task Retries_are_bounded_by_MaxErrorRetry_and_the_last_5xx_is_thrown()
    {
        await using var endpoint = ScriptedEndpoint.Start((_, _) => Error(503, "ServiceUnavailable"));
        using var client = new KinesisClient(Options(endpoint.Url, maxErrorRetry: 2));
        var e = await Assert.ThrowsAsync<KinesisServiceException>(() => client.DescribeLimitsAsync(new DescribeLimitsRequest()));
        Assert.Equal(503, e.StatusCode);
        Assert.Equal("ServiceUnavailable", e.ErrorCode);
        Assert.Equal(3, endpoint.Requests);
    }

    [Fact]
    public async Task Other_4xx_errors_are_never_retried()
    {
        await using var endpoint = ScriptedEndpoint.Start((_, _) => Error(400, "com.amazonaws.kinesis#ResourceNotFoundException"));
        using var client = new KinesisClient(Options(endpoint.Url, maxErrorRetry: 5));
        var e = await Assert.ThrowsAsync<ResourceNotFoundException>(() => client.DescribeLimitsAsync(new DescribeLimitsRequest()));
        Assert.Equal(400, e.StatusCode);
        Assert.Equal(1, endpoint.Requests);
    }

    [Fact]
    public async Task A_connection_dropped_without_an_answer_is_retried()
    {
        // Raw TCP, so the first connection can be closed after the request without any HTTP answer.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = 0;
        var serving = Task.Run(async () =>
        {
            for (var n = 0; n < 2; n++)
            {
                using var socket = await listener.AcceptSocketAsync();
                accepted++;
                await using var stream = new NetworkStream(socket);
                await ReadRequestAsync(stream);
                if (n == 0)
                {
                    socket.LingerState = new LingerOption(true, 0); // RST: the request is lost
                    continue;
                }
                var body = Encoding.UTF8.GetBytes(Limits);
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(body);
            }
        });
        using var client = new KinesisClient(Options($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/", maxErrorRetry: 2));
        var limits = await client.DescribeLimitsAsync(new DescribeLimitsRequest());
        Assert.Equal(7, limits.ShardLimit);
        await serving.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, accepted);
    }

    private static async Task ReadRequestAsync(Stream stream)
    {
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (true)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length));
            if (read == 0)
                return;
            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
                continue;
            var header = text[..end].Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            var bodyLength = header is null ? 0 : int.Parse(header["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            if (length >= end + 4 + bodyLength)
                return;
        }
    }

    [Fact]
    public async Task Cancellation_is_honoured_during_a_backoff_wait()
    {
        var firstAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = ScriptedEndpoint.Start((_, _) =>
        {
            firstAnswered.TrySetResult();
            return Error(500, "InternalFailure");
        });
        // A base delay of 10 minutes: without cancellation the call would sit in its backoff far past the bound below.
        using var client = new KinesisClient(Options(endpoint.Url, maxErrorRetry: 5, baseDelay: TimeSpan.FromMinutes(10)));
        using var cancel = new CancellationTokenSource();
        var call = client.DescribeLimitsAsync(new DescribeLimitsRequest(), cancel.Token);
        await firstAnswered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(50); // let the client reach its backoff (either way it must end cancelled)
        await cancel.CancelAsync();
        var finished = await Task.WhenAny(call, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.Same(call, finished);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Cancellation_is_honoured_during_a_request()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource<Reply?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var endpoint = ScriptedEndpoint.Start((_, _) =>
        {
            received.TrySetResult();
            return release.Task.Result; // holds the answer until the test ends
        });
        using var client = new KinesisClient(Options(endpoint.Url, maxErrorRetry: 5));
        using var cancel = new CancellationTokenSource();
        var call = client.DescribeLimitsAsync(new DescribeLimitsRequest(), cancel.Token);
        await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.Equal(1, endpoint.Requests);
        release.SetResult(Ok(Limits));
    }

    private const string Limits = """{"ShardLimit":7,"OpenShardCount":0,"OnDemandStreamCount":0,"OnDemandStreamCountLimit":50}""";

    private static Reply Ok(string json) => new(200, json);

    private static Reply Error(int status, string type) => new(status, $$"""{"__type":"{{type}}","message":"scripted {{status}}"}""");

    internal sealed record Reply(int Status, string Json);

    private sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Reset() => Volatile.Write(ref _count, 0);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>A loopback HTTP/1.1 endpoint answering request n with script(n, target); a null reply aborts the
    /// connection without an answer.</summary>
    private sealed class ScriptedEndpoint : IAsyncDisposable
    {
        private readonly HttpListener _listener;
        private readonly Func<int, string?, Reply?> _script;
        private readonly Task _loop;
        private readonly List<string?> _targets = [];

        private ScriptedEndpoint(HttpListener listener, string url, Func<int, string?, Reply?> script)
        {
            _listener = listener;
            Url = url;
            _script = script;
            _loop = Task.Run(LoopAsync);
        }

        public string Url { get; }

        public int Requests { get { lock (_targets) { return _targets.Count; } } }

        public IReadOnlyList<string?> Targets { get { lock (_targets) { return [.. _targets]; } } }

        public static ScriptedEndpoint Start(Func<int, string?, Reply?> script)
        {
            for (var attempt = 0; ; attempt++)
            {
                var probe = new TcpListener(IPAddress.Loopback, 0);
                probe.Start();
                var port = ((IPEndPoint)probe.LocalEndpoint).Port;
                probe.Stop();
                var url = $"http://127.0.0.1:{port}/";
                var listener = new HttpListener();
                listener.Prefixes.Add(url);
                try
                {
                    listener.Start();
                    return new ScriptedEndpoint(listener, url, script);
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                    listener.Close(); // the port was taken in between: another one
                }
            }
        }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                _ = Task.Run(() => Answer(context));
            }
        }

        private void Answer(HttpListenerContext context)
        {
            int n;
            var target = context.Request.Headers["X-Amz-Target"];
            lock (_targets)
            {
                n = _targets.Count;
                _targets.Add(target);
            }
            try
            {
                var reply = _script(n, target);
                if (reply is null)
                {
                    context.Response.Abort();
                    return;
                }
                var body = Encoding.UTF8.GetBytes(reply.Json);
                context.Response.StatusCode = reply.Status;
                context.Response.ContentType = "application/x-amz-json-1.1";
                context.Response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
                context.Response.ContentLength64 = body.Length;
                context.Response.OutputStream.Write(body);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException)
            {
                // the client went away (cancellation tests)
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Close();
            await _loop;
        }
    }
}
