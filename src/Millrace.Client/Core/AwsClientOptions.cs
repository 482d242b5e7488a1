using System.Net;
using Millrace.Client.Auth;

namespace Millrace.Client;

/// <summary>Settings shared by the Kinesis (and lease-table DynamoDB) clients, with the AWS SDK's meanings.</summary>
public sealed class AwsClientOptions
{
    /// <summary>Region to sign for and to build the default endpoint from. Null: AWS_REGION, AWS_DEFAULT_REGION, then
    /// the profile's region.</summary>
    public string? Region { get; set; }

    /// <summary>Endpoint override (e.g. http://127.0.0.1:4567 for Millrace). Null: the service's AWS endpoint.</summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>Credentials. Null: the default chain (environment variables, then the shared credentials and config
    /// files for <see cref="Profile"/>).</summary>
    public IAwsCredentialsProvider? Credentials { get; set; }

    /// <summary>Profile of the shared files. Null: AWS_PROFILE, then "default".</summary>
    public string? Profile { get; set; }

    /// <summary>Retries after the first attempt on throttling, 5xx and transport errors.</summary>
    public int MaxErrorRetry { get; set; } = 3;

    /// <summary>Base of the exponential backoff; each retry waits a random time up to base * 2^attempt (full jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Cap of one backoff wait.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>HTTP/1.1 (default) or HTTP/2. HTTP/2 over http:// uses prior knowledge (h2c), as Millrace accepts.</summary>
    public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version11;

    /// <summary>Connections per endpoint.</summary>
    public int MaxConnections { get; set; } = 50;

    /// <summary>Timeout of one HTTP attempt.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Optional handler to share connections between clients (not disposed by the client).</summary>
    public HttpMessageHandler? HttpHandler { get; set; }

    /// <summary>Clock used for signing and backoff (tests use a fake one).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal static DecompressionMethods Decompression => DecompressionMethods.None;
}
