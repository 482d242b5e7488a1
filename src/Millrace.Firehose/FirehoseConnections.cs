using Millrace.Gateway;

namespace Millrace.Firehose;

/// <summary>The other services a delivery reaches, in process: never over HTTP.</summary>
public sealed class FirehoseConnections
{
    /// <summary>Where S3 destinations write (Millrace's own S3, or an S3-compatible endpoint through <see cref="Delivery.ExternalS3Objects"/>).</summary>
    public required IBucketObjects Objects { get; init; }

    /// <summary>Lambda, for transformations; null when the server has none.</summary>
    public IFunctionInvocations? Functions { get; init; }

    /// <summary>Kinesis Data Streams, for KinesisStreamAsSource delivery streams.</summary>
    public IKinesisCalls? Kinesis { get; init; }

    /// <summary>The Glue Data Catalog, for record format conversion's table schemas.</summary>
    public ITableSchemas? Schemas { get; init; }

    /// <summary>
    /// Whether a role's policies allow an action on a resource (--auth sigv4): deliveries act as the roles they name,
    /// as on AWS. The source's RoleARN reads the Kinesis stream; the destination's RoleARN (or the Lambda processor's
    /// RoleArn) invokes the transformation and writes S3, so a role without s3:PutObject fails its writes with
    /// S3.AccessDenied and one without lambda:InvokeFunction fails its records with Lambda.InvokeAccessDenied. Null: no checks.
    /// </summary>
    public RoleAuthorization? RoleAllows { get; init; }
}
