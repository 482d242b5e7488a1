using Microsoft.AspNetCore.Http;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway;

/// <summary>
/// A service on the one endpoint. The gateway picks the service for a request from <see cref="Routes"/> (the way
/// AWS's front ends tell services apart) and hands it the whole request; the service parses it with its protocol
/// and writes the response, errors included.
/// </summary>
public interface IAwsService
{
    /// <summary>The SigV4 signing name, e.g. "kinesis", "dynamodb", "s3"; also the name printed by <c>serve</c>.</summary>
    string Name { get; }

    ServiceRoutes Routes { get; }

    Task HandleAsync(HttpContext http);

    /// <summary>Answers <paramref name="error"/> in the service's protocol before any operation ran (the front
    /// door's authentication and authorization errors).</summary>
    Task WriteErrorAsync(HttpContext http, ServiceException error);
}

/// <summary>Which family of SigV4 error codes a service answers with (they differ across AWS's front ends).</summary>
public enum AuthErrorStyle
{
    /// <summary>JSON 1.0/1.1 and CBOR services: UnrecognizedClientException, InvalidSignatureException… with 400.</summary>
    AwsJson,

    /// <summary>rest-json services (Lambda): the same codes with 403.</summary>
    RestJson,

    /// <summary>Query services (IAM, STS, CloudWatch query): InvalidClientTokenId, SignatureDoesNotMatch…</summary>
    Query,

    /// <summary>S3: InvalidAccessKeyId, SignatureDoesNotMatch with the canonical request, RequestTimeTooSkewed…</summary>
    S3,
}

/// <summary>What identifies a service's requests on the shared port.</summary>
public sealed class ServiceRoutes
{
    /// <summary>X-Amz-Target prefixes before the dot, e.g. "Kinesis_20131202" (JSON 1.0/1.1 protocols).</summary>
    public IReadOnlyList<string> TargetPrefixes { get; init; } = [];

    /// <summary>Service names in smithy rpc-v2-cbor paths (<c>/service/&lt;name&gt;/operation/&lt;op&gt;</c>).</summary>
    public IReadOnlyList<string> SmithyServiceNames { get; init; } = [];

    /// <summary>Names in the SigV4 credential scope that mean this service (usually just <see cref="IAwsService.Name"/>).</summary>
    public IReadOnlyList<string> SigningNames { get; init; } = [];

    /// <summary>REST path prefixes that belong to this service, e.g. "/2015-03-31/functions".</summary>
    public IReadOnlyList<string> PathPrefixes { get; init; } = [];

    /// <summary>
    /// The service takes JSON-protocol POSTs that carry no (or an unknown) X-Amz-Target, so that they get its
    /// UnknownOperationException (Kinesis, as before the one endpoint).
    /// </summary>
    public bool DefaultForJsonPosts { get; init; }

    /// <summary>
    /// S3: takes virtual-hosted requests (<c>Host: bucket.s3.…</c> or <c>bucket.localhost</c>) and the REST
    /// requests (GET, PUT, HEAD, DELETE, POST of a form or with S3 sub-resources) no other route claimed.
    /// </summary>
    public bool ObjectStorage { get; init; }

    /// <summary>The SigV4 error codes the service answers with.</summary>
    public AuthErrorStyle AuthErrors { get; init; }
}
