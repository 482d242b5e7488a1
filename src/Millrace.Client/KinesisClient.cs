namespace Millrace.Client;

/// <summary>Kinesis Data Streams over AWS JSON 1.1. The operation methods are generated (Generated/Kinesis.g.cs).</summary>
public sealed partial class KinesisClient : IKinesisClient, IDisposable
{
    public const string ServiceName = "kinesis";
    public const string TargetPrefix = "Kinesis_20131202";

    public KinesisClient(AwsClientOptions options)
    {
        Transport = new AwsJsonTransport(options, ServiceName, TargetPrefix, "1.1",
            (code, message, status, requestId) =>
                KinesisServiceException.ForCode(code, message, status, requestId)
                ?? new KinesisServiceException(code, message, status, requestId));
    }

    /// <summary>The signed JSON transport; exposed for hand-written operations and tests.</summary>
    public AwsJsonTransport Transport { get; }

    public void Dispose() => Transport.Dispose();
}
