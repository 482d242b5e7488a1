namespace Millrace.Server;

/// <summary>Everything `millrace serve` can be told. Defaults are the ones the README documents.</summary>
public sealed class MillraceServerOptions
{
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 picks a free port.</summary>
    public int Port { get; set; } = 4567;

    public string DataDirectory { get; set; } = "./millrace-data";

    /// <summary>Port of the DynamoDB endpoint (lease tables for the KCL); 0 picks a free port, null serves none
    /// (`millrace serve` defaults to 4568; in-process hosts in tests opt in).</summary>
    public int? DynamoDbPort { get; set; }

    public string Region { get; set; } = "us-east-1";

    public string AccountId { get; set; } = "000000000000";

    /// <summary>How long a new stream stays CREATING before it becomes ACTIVE.</summary>
    public TimeSpan CreateStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long a deleted stream stays DELETING before it is gone.</summary>
    public TimeSpan DeleteStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long a resharded stream (SplitShard, MergeShards, UpdateShardCount) stays UPDATING before the
    /// new shards take over.</summary>
    public TimeSpan UpdateStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Segment file size of the embedded log.</summary>
    public long SegmentSizeBytes { get; set; } = 128L * 1024 * 1024;

    /// <summary>Open shards per account (AWS's default quota in us-east-1 is 500; 0 means no limit).</summary>
    public int ShardLimit { get; set; }

    /// <summary>Directory of encryption keys and aliases (see README); null means &lt;data-dir&gt;/keys.</summary>
    public string? KmsKeyDirectory { get; set; }

    /// <summary>On-demand streams per account (AWS's default quota is 50; 0 means no limit).</summary>
    public int OnDemandStreamCountLimit { get; set; } = 50;

    /// <summary>Throttle as AWS does (per-shard throughput, control-plane rates); off by default.</summary>
    public bool EnforceLimits { get; set; }

    /// <summary>The figures <see cref="EnforceLimits"/> applies.</summary>
    public Limits.ThroughputLimits Limits { get; set; } = new();

    public TimeProvider Clock { get; set; } = TimeProvider.System;

    /// <summary>Port of the TLS endpoint (h2 by ALPN, and HTTP/1.1); null means none, 0 picks a free port.</summary>
    public int? TlsPort { get; set; }

    /// <summary>The TLS certificate: a PEM file (with <see cref="TlsKeyPath"/>) or a PFX/PKCS#12 file without a
    /// password. Null: a self-signed certificate created at first start in &lt;data-dir&gt;/server/tls.pfx.</summary>
    public string? TlsCertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; set; }
}
