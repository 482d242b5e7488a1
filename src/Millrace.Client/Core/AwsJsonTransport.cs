using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Millrace.Client.Auth;

namespace Millrace.Client;

/// <summary>The AWS JSON protocol (POST /, X-Amz-Target, application/x-amz-json-1.x): serializes, signs with SigV4,
/// retries with jittered exponential backoff, and turns error bodies into typed exceptions. Shared by the Kinesis and
/// DynamoDB clients.</summary>
public sealed class AwsJsonTransport : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHandler;
    private readonly string _service;
    private readonly string _targetPrefix;
    private readonly MediaTypeHeaderValue _contentType;
    private readonly Func<string, string, int, string?, AwsServiceException> _errorFactory;

    /// <param name="options">Client settings.</param>
    /// <param name="service">Signing name and endpoint prefix ("kinesis", "dynamodb").</param>
    /// <param name="targetPrefix">X-Amz-Target prefix ("Kinesis_20131202", "DynamoDB_20120810").</param>
    /// <param name="jsonVersion">"1.1" (Kinesis) or "1.0" (DynamoDB).</param>
    /// <param name="errorFactory">Typed exception for (code, message, status, request id).</param>
    public AwsJsonTransport(AwsClientOptions options, string service, string targetPrefix, string jsonVersion,
        Func<string, string, int, string?, AwsServiceException> errorFactory)
    {
        Options = options;
        _service = service;
        _targetPrefix = targetPrefix;
        _errorFactory = errorFactory;
        _contentType = new MediaTypeHeaderValue("application/x-amz-json-" + jsonVersion);
        Region = ResolveRegion(options, null);
        Endpoint = options.ServiceUrl ?? DefaultEndpoint(service, Region);
        Credentials = options.Credentials ?? DefaultCredentialsChain.Create(options.Profile);
        _ownsHandler = options.HttpHandler is null;
        var handler = options.HttpHandler ?? new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.MaxConnections,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            EnableMultipleHttp2Connections = true,
            AutomaticDecompression = AwsClientOptions.Decompression,
        };
        _http = new HttpClient(handler, disposeHandler: _ownsHandler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The service's regional AWS endpoint (China regions use amazonaws.com.cn).</summary>
    public static Uri DefaultEndpoint(string service, string region) =>
        new($"https://{service}.{region}.{(region.StartsWith("cn-", StringComparison.Ordinal) ? "amazonaws.com.cn" : "amazonaws.com")}/");

    /// <summary>AwsClientOptions.Region, else AWS_REGION, AWS_DEFAULT_REGION, the profile's region; else a clear error.</summary>
    internal static string ResolveRegion(AwsClientOptions options, Func<string, string?>? environment) =>
        options.Region ?? AwsRegion.Resolve(options.Profile, environment)
        ?? throw new AwsConfigurationException(
            $"No AWS region: set AwsClientOptions.Region, AWS_REGION, AWS_DEFAULT_REGION or region in profile '{SharedConfigFiles.ProfileName(options.Profile, environment)}' of the config file.");

    public AwsClientOptions Options { get; }
    public string Region { get; }
    public Uri Endpoint { get; }
    public IAwsCredentialsProvider Credentials { get; }

    /// <summary>Calls <paramref name="operation"/>, retrying retryable failures up to MaxErrorRetry times.</summary>
    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string operation, TRequest request,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
        where TResponse : class
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, requestType);
        return await WithRetriesAsync(ct => SendOnceAsync(operation, body, responseType, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="attempt"/> until it succeeds, fails with an error a retry cannot cure, or
    /// MaxErrorRetry retries are spent; waits a jittered exponential backoff between attempts.</summary>
    public async Task<T> WithRetriesAsync<T>(Func<CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        for (var n = 0; ; n++)
        {
            try
            {
                return await attempt(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (n < Options.MaxErrorRetry && IsRetryable(e, cancellationToken))
            {
                await Task.Delay(BackoffDelay(n), Options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends a request built by <see cref="CreateSignedRequestAsync"/> on the client's connections.</summary>
    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken) =>
        _http.SendAsync(request, completion, cancellationToken);

    /// <summary>Full-jitter backoff (AWS's "exponential backoff and jitter"): a random wait in
    /// [0, min(cap, base * 2^attempt)), so throttled clients spread out instead of retrying in lockstep.</summary>
    public TimeSpan BackoffDelay(int attempt)
    {
        var ceiling = Math.Min(Options.MaxRetryDelay.TotalMilliseconds,
            Options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    /// <summary>Throttling and 5xx answers, transport failures and attempt timeouts; never another 4xx, never the
    /// caller's cancellation.</summary>
    internal static bool IsRetryable(Exception e, CancellationToken cancellationToken) => !cancellationToken.IsCancellationRequested && e switch
    {
        AwsServiceException service => service.IsRetryable,
        HttpRequestException or IOException or TimeoutException => true,
        OperationCanceledException => true, // not the caller's token: the per-attempt timeout
        _ => false,
    };

    private async Task<TResponse> SendOnceAsync<TResponse>(string operation, byte[] body, JsonTypeInfo<TResponse> responseType,
        CancellationToken cancellationToken) where TResponse : class
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        using var message = await CreateSignedRequestAsync(operation, body, timeout.Token).ConfigureAwait(false);
        HttpResponseMessage? response = null;
        try
        {
            response = await _http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            var requestId = RequestIdOf(response);
            if (!response.IsSuccessStatusCode)
                throw ParseError(bytes, (int)response.StatusCode, requestId);
            var result = bytes.Length == 0 ? JsonSerializer.Deserialize("{}"u8, responseType)! : JsonSerializer.Deserialize(bytes, responseType)!;
            if (result is KinesisResponse kinesis)
            {
                kinesis.RequestId = requestId;
                kinesis.HttpStatusCode = (int)response.StatusCode;
            }
            return result;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{operation} got no answer within {Options.RequestTimeout} (AwsClientOptions.RequestTimeout).", e);
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>A signed POST for <paramref name="operation"/>; also used by hand-written streaming operations.</summary>
    public async Task<HttpRequestMessage> CreateSignedRequestAsync(string operation, byte[] body, CancellationToken cancellationToken,
        Version? httpVersion = null)
    {
        var message = new HttpRequestMessage(HttpMethod.Post, Endpoint)
        {
            Version = httpVersion ?? Options.HttpVersion,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        message.Content.Headers.ContentType = _contentType;
        message.Headers.TryAddWithoutValidation("X-Amz-Target", _targetPrefix + "." + operation);
        var credentials = await Credentials.GetCredentialsAsync(cancellationToken).ConfigureAwait(false);
        SigV4Signer.Sign(message, body, credentials, Region, _service, Options.TimeProvider.GetUtcNow());
        return message;
    }

    internal static string? RequestIdOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("x-amzn-RequestId", out var values) ? values.FirstOrDefault() : null;

    /// <summary>Reads an AWS JSON error body: {"__type": "[namespace#]Code", "message"|"Message": "..."}.</summary>
    public AwsServiceException ParseError(ReadOnlySpan<byte> body, int statusCode, string? requestId)
    {
        string code = statusCode >= 500 ? "InternalFailure" : "UnknownError";
        string message = "";
        try
        {
            var reader = new Utf8JsonReader(body);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString();
                    reader.Read();
                    if (name is "__type" && reader.TokenType == JsonTokenType.String)
                    {
                        var type = reader.GetString()!;
                        code = type[(type.LastIndexOf('#') + 1)..];
                    }
                    else if (name is "message" or "Message" && reader.TokenType == JsonTokenType.String)
                        message = reader.GetString()!;
                    else
                        reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            message = System.Text.Encoding.UTF8.GetString(body);
        }
        if (statusCode == (int)HttpStatusCode.RequestEntityTooLarge && message.Length == 0)
            message = "request entity too large";
        return _errorFactory(code, message, statusCode, requestId);
    }

    public void Dispose() => _http.Dispose();
}
