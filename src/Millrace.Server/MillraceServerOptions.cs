using Millrace.Gateway.Authentication;
using Millrace.Kinesis;

namespace Millrace.Server;

/// <summary>Everything `millrace serve` can be told. Defaults are the ones the README documents.</summary>
public sealed class MillraceServerOptions : KinesisOptions
{
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port.</summary>
    public int Port { get; set; } = 4567;

    public string DataDirectory { get; set; } = "./millrace-data";

    /// <summary>A second, DynamoDB-only port for configurations that name one (DynamoDB is always served on
    /// <see cref="Port"/> too); 0 picks a free port, null (the default) opens none.</summary>
    public int? DynamoDbPort { get; set; }

    /// <summary>Segment file size of the embedded log.</summary>
    public long SegmentSizeBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>Directory of encryption keys and aliases (see README); null means &lt;data-dir&gt;/keys.</summary>
    public string? KmsKeyDirectory { get; set; }

    /// <summary>Port of the TLS endpoint (h2 by ALPN, and HTTP/1.1); null means none, 0 picks a free port.</summary>
    public int? TlsPort { get; set; }

    /// <summary>The TLS certificate: a PEM file (with <see cref="TlsKeyPath"/>) or a PFX/PKCS#12 file without a
    /// password. Null: a self-signed certificate created at first start in &lt;data-dir&gt;/server/tls.pfx.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; set; }

    /// <summary>Lambda execution environments that may run at once over all functions.</summary>
    public int LambdaConcurrency { get; set; } = 16;

    /// <summary>How long an idle Lambda execution environment is kept warm.</summary>
    public TimeSpan LambdaIdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>An S3-compatible endpoint Firehose's S3 destinations write to instead of Millrace's own S3 (null: Millrace's).</summary>
    public Uri? FirehoseS3Endpoint { get; set; }

    /// <summary>
    /// How requests are authenticated: <see cref="AuthMode.None"/> (any credentials) or <see cref="AuthMode.SigV4"/>
    /// (verified signatures, IAM policies enforced). Null: none on a loopback <see cref="Host"/>; any other address
    /// refuses to start unless the mode is given explicitly.
    /// </summary>
    public AuthMode? Auth { get; set; }

    /// <summary>The account root's access key id for <see cref="AuthMode.SigV4"/>; with <see cref="RootSecretAccessKey"/>
    /// it replaces the stored root key. Both null: the stored one, or one generated at first start.</summary>
    public string? RootAccessKeyId { get; set; }

    /// <summary>The root key's secret (see <see cref="RootAccessKeyId"/>).</summary>
    public string? RootSecretAccessKey { get; set; }

    /// <summary>How long a Firehose HTTP endpoint destination has to answer a request.</summary>
    public TimeSpan FirehoseHttpTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>How long CloudWatch keeps 1-minute metric data (AWS: 15 days).</summary>
    public TimeSpan MetricsRetention { get; set; } = TimeSpan.FromDays(15);

    /// <summary>How often CloudWatch alarms are evaluated.</summary>
    public TimeSpan AlarmEvaluationInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the services' own metrics are written from memory to the metric store.</summary>
    public TimeSpan MetricsFlushInterval { get; set; } = TimeSpan.FromSeconds(60);
}
