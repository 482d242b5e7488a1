using Microsoft.AspNetCore.Http;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway.Authentication;

/// <summary>Decides whether a verified caller may make a request (IAM's policy evaluation).</summary>
public interface IRequestAuthorizer
{
    /// <summary>Null when allowed; otherwise the AccessDenied error to answer.</summary>
    Task<ServiceException?> AuthorizeAsync(HttpContext http, IAwsService service, CallerIdentity caller);
}

/// <summary>
/// A service's resource-based policies (Kinesis stream and consumer policies, S3 bucket policies, Lambda function
/// permissions), read in process by the authorizer.
/// </summary>
public interface IResourcePolicies
{
    /// <summary>The signing name of the service whose resources these are (kinesis, s3, lambda).</summary>
    string Service { get; }

    /// <summary>Whether any resource of the service has a policy (lets root requests skip parsing when none does).</summary>
    ValueTask<bool> AnyAsync(CancellationToken cancellationToken = default);

    /// <summary>The policy document (JSON) of the resource, or null.</summary>
    ValueTask<string?> GetAsync(string resourceArn, CancellationToken cancellationToken = default);

    /// <summary>The resource an operation acts on when its input names it only opaquely (Kinesis GetRecords' shard
    /// iterator names its stream); null to use the action table's template.</summary>
    string? ResourceOf(string operation, System.Text.Json.Nodes.JsonObject input) => null;
}
