namespace Millrace.Firehose;

/// <summary>Where the Firehose service runs and how long its transitions and retries take.</summary>
public sealed class FirehoseOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How long a new delivery stream stays CREATING (and a deleted one DELETING) before the change completes.</summary>
    public TimeSpan CreateDelay { get; init; } = TimeSpan.Zero;

    /// <summary>How long undelivered data is retried before it goes to the error output (AWS: 24 hours for S3).</summary>
    public TimeSpan MaxDataAge { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long an HTTP endpoint has to answer a delivery request (AWS: 3 minutes).</summary>
    public TimeSpan HttpResponseTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>
    /// The KMS key id to encrypt buffered records with, for a delivery stream's KeyType and KeyARN (null KeyARN: the
    /// AWS-owned key). Throws a <see cref="Millrace.Protocol.Wire.ServiceException"/> when the key cannot be used.
    /// Null disables server-side encryption (Start/StopDeliveryStreamEncryption then fail).
    /// </summary>
    public Func<string, string?, string>? ResolveEncryptionKey { get; init; }

    /// <summary>The ARN of a Kinesis stream by name, as the Kinesis service forms it.</summary>
    internal string KinesisStreamArn(string name) => $"arn:aws:kinesis:{Region}:{AccountId}:stream/{name}";
}
