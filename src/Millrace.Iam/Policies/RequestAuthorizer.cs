using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Millrace.Gateway;
using Millrace.Gateway.Authentication;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Iam.Policies;

/// <summary>
/// Authorizes verified requests in the front door, for every service: the operation is resolved with the service's
/// AWS model, its IAM action and resource ARN come from <see cref="ActionTable"/>, and the caller's identity-based
/// policies, its role session's policy and the resource's own policy are evaluated with <see cref="PolicyEvaluator"/>.
/// A denial is AWS's AccessDenied with AWS's message, in the service's protocol.
/// </summary>
public sealed class RequestAuthorizer(IdentityDirectory directory, string region, IEnumerable<IResourcePolicies> resourcePolicies) : IRequestAuthorizer
{
    private readonly Dictionary<string, IResourcePolicies> _resources = resourcePolicies.ToDictionary(r => r.Service, StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ModelDispatcher> _dispatchers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PolicyDocument?> _parsed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Version, IReadOnlyList<PolicyDocument> Policies)> _identity = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public async Task<ServiceException?> AuthorizeAsync(HttpContext http, IAwsService service, CallerIdentity caller)
    {
        _resources.TryGetValue(service.Name, out var resourcePolicies);
        if (caller.Kind == PrincipalKind.Root && (resourcePolicies is null || !await resourcePolicies.AnyAsync(http.RequestAborted)))
        {
            return null; // the root user is allowed everything no resource policy denies
        }

        var style = service.Routes.AuthErrors;
        var modelName = service is ModelService modelService ? modelService.Model.Name : service.Name;
        var (operation, input) = Resolve(http, modelName, style == AuthErrorStyle.S3);
        if (operation is null)
        {
            return null; // no such operation: the service answers its unknown-operation error, and does nothing
        }

        var entry = ActionTable.Find(modelName, operation);
        if (entry is null)
        {
            return Denied(style, $"User: {caller.Arn} is not authorized to perform: {service.Name}:{operation} because Millrace has no IAM action for it");
        }

        if (entry.Action is null || entry.Action == "sts:AssumeRole")
        {
            return null; // no permission needed, or the role's trust policy decides (StsService)
        }

        var keys = RequestKeys.Of(caller, http.Features.Get<RequestFacts>());
        if (style == AuthErrorStyle.S3 && http.Request.Query.TryGetValue("prefix", out var prefix))
        {
            keys["s3:prefix"] = [prefix.ToString()];
        }

        var identityPolicies = caller.Kind == PrincipalKind.Root ? [] : await IdentityPoliciesAsync(caller, http.RequestAborted);
        var session = Parse(await directory.SessionPolicyAsync(caller, http.RequestAborted));
        foreach (var permission in (IEnumerable<ActionEntry>)[entry, .. entry.Also])
        {
            if (permission.Action is null)
            {
                continue;
            }

            var resolved = ReferenceEquals(permission, entry) ? resourcePolicies?.ResourceOf(operation, input) : null;
            foreach (var resource in resolved is not null ? [resolved] : Resources(permission, input, caller, also: !ReferenceEquals(permission, entry)) ?? [])
            {
                var request = new AuthorizationRequest(permission.Action!, resource, caller, keys);
                var resourcePolicy = resourcePolicies is null ? null : Parse(await resourcePolicies.GetAsync(ResourcePolicyArn(resource), http.RequestAborted));
                var decision = PolicyEvaluator.Evaluate(request, identityPolicies, resourcePolicy, session);
                if (decision != Decision.Allow)
                {
                    return Denied(style, PolicyEvaluator.DenialMessage(request, decision));
                }
            }
        }

        return null;
    }

    /// <summary>Whether the caller's identity-based policies alone allow an action (trust policies that delegate to the account).</summary>
    public async Task<bool> IdentityAllowsAsync(CallerIdentity caller, string action, string resource, CancellationToken ct)
    {
        if (caller.Kind == PrincipalKind.Root)
        {
            return true;
        }

        var request = new AuthorizationRequest(action, resource, caller, RequestKeys.Of(caller, null));
        return PolicyEvaluator.Evaluate(request, await IdentityPoliciesAsync(caller, ct), null, Parse(await directory.SessionPolicyAsync(caller, ct))) == Decision.Allow;
    }

    /// <summary>
    /// Whether a role's policies (and the resource's own policy) allow an action: Millrace's own services act as the
    /// roles their configuration names (a delivery stream's RoleARN). False for a role that does not exist.
    /// </summary>
    public async Task<bool> RoleAllowsAsync(string roleArn, string action, string resource, CancellationToken ct)
    {
        var roleName = roleArn[(roleArn.LastIndexOf('/') + 1)..];
        if (!roleArn.StartsWith($"arn:aws:iam::{directory.AccountId}:role/", StringComparison.Ordinal)
            || await directory.Store.GetAsync(IdentityDirectory.Role, "", roleName, ct) is null)
        {
            return false;
        }

        var caller = new CallerIdentity(PrincipalKind.AssumedRole, directory.AccountId, $"arn:aws:sts::{directory.AccountId}:assumed-role/{roleName}/millrace",
            roleName, "", roleName) { RoleArn = roleArn };
        var service = action[..action.IndexOf(':', StringComparison.Ordinal)];
        var resourcePolicy = _resources.TryGetValue(service, out var source) ? Parse(await source.GetAsync(ResourcePolicyArn(resource), ct)) : null;
        var request = new AuthorizationRequest(action, resource, caller, RequestKeys.Of(caller, null));
        return PolicyEvaluator.Evaluate(request, await IdentityPoliciesAsync(caller, ct), resourcePolicy) == Decision.Allow;
    }

    private static ServiceException Denied(AuthErrorStyle style, string message) => style switch
    {
        AuthErrorStyle.S3 => new ServiceException("AccessDenied", message, 403),
        AuthErrorStyle.Query => new ServiceException("AccessDenied", message, 403),
        AuthErrorStyle.RestJson => new ServiceException("AccessDeniedException", message, 403),
        _ => new ServiceException("AccessDeniedException", message, 400),
    };

    private async Task<IReadOnlyList<PolicyDocument>> IdentityPoliciesAsync(CallerIdentity caller, CancellationToken ct)
    {
        var version = directory.Store.Version;
        var cacheKey = caller.RoleArn ?? caller.Arn;
        if (_identity.TryGetValue(cacheKey, out var cached) && cached.Version == version)
        {
            return cached.Policies;
        }

        var documents = await directory.IdentityPoliciesAsync(caller, ct);
        var policies = documents.Select(Parse).OfType<PolicyDocument>().ToList();
        _identity[cacheKey] = (version, policies);
        return policies;
    }

    private PolicyDocument? Parse(string? text)
    {
        if (text is null)
        {
            return null;
        }

        return _parsed.GetOrAdd(text, t =>
        {
            try
            {
                return PolicyDocument.Parse(t);
            }
            catch (PolicySyntaxException)
            {
                return null;
            }
        });
    }

    /// <summary>The resource whose policy applies: an object's bucket, a consumer's or a function version's own ARN.</summary>
    private static string ResourcePolicyArn(string resource)
    {
        if (resource.StartsWith("arn:aws:s3:::", StringComparison.Ordinal))
        {
            var slash = resource.IndexOf('/', StringComparison.Ordinal);
            return slash < 0 ? resource : resource[..slash];
        }

        return resource;
    }

    /// <summary>
    /// The resource ARNs of a permission: an ARN member when the request carries one, else the template filled from
    /// the input (one resource per value of a list or map placeholder). Null when a placeholder of an extra
    /// permission (<see cref="ActionEntry.Also"/>) is absent: that permission does not apply to this request.
    /// </summary>
    private List<string>? Resources(ActionEntry entry, JsonObject input, CallerIdentity caller, bool also)
    {
        foreach (var member in entry.ArnMembers)
        {
            var arns = Values(input, member);
            if (arns.Count == 1 && arns[0].StartsWith("arn:", StringComparison.Ordinal))
            {
                return [arns[0]];
            }
        }

        var template = entry.Resource;
        if (template == "*")
        {
            return ["*"];
        }

        var results = new List<string> { "" };
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            int close = open < 0 ? -1 : template.IndexOf('}', open);
            if (open < 0 || close < 0)
            {
                Append(results, [template[i..]]);
                break;
            }

            Append(results, [template[i..open]]);
            var name = template[(open + 1)..close];
            List<string> values = name switch
            {
                "Region" => [region],
                "Account" => [directory.AccountId],
                "aws:username" => [caller.Name],
                _ => Values(input, name),
            };
            if (values.Count == 0)
            {
                if (also)
                {
                    return null;
                }

                values = ["*"];
            }

            // A member that already holds a whole ARN (a function ARN) replaces the template.
            if (open == 0 && close == template.Length - 1 || (name == "FunctionName" && values[0].StartsWith("arn:", StringComparison.Ordinal)))
            {
                return values;
            }

            if (name == "CopySource")
            {
                values = [.. values.Select(CopySourcePath)];
            }

            Append(results, values);
            i = close + 1;
        }

        return results;
    }

    private static void Append(List<string> results, List<string> values)
    {
        if (values.Count == 1)
        {
            for (int r = 0; r < results.Count; r++)
            {
                results[r] += values[0];
            }

            return;
        }

        var expanded = results.SelectMany(prefix => values.Select(v => prefix + v)).ToList();
        results.Clear();
        results.AddRange(expanded);
    }

    // "/bucket/key?versionId=…", URL-encoded: "bucket/key".
    private static string CopySourcePath(string source)
    {
        var value = Uri.UnescapeDataString(source.TrimStart('/'));
        int q = value.IndexOf("?versionId=", StringComparison.Ordinal);
        return q < 0 ? value : value[..q];
    }

    /// <summary>
    /// The text values at a member path of the input: <c>A.B</c> nested members, <c>A[]</c> every element of a
    /// list, <c>A.*</c> every key of a map (e.g. <c>RequestItems.*</c>, <c>Delete.Objects[].Key</c>).
    /// </summary>
    private static List<string> Values(JsonObject input, string path)
    {
        IEnumerable<JsonNode?> current = [input];
        foreach (var raw in path.Split('.'))
        {
            if (raw == "*")
            {
                return [.. current.OfType<JsonObject>().SelectMany(o => o.Select(m => m.Key))];
            }

            bool list = raw.EndsWith("[]", StringComparison.Ordinal);
            var name = list ? raw[..^2] : raw;
            current = current.OfType<JsonObject>().Select(o => o[name]);
            if (list)
            {
                current = current.OfType<JsonArray>().SelectMany(a => a);
            }
        }

        return [.. current.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var text) ? text : v.ToJsonString())];
    }

    /// <summary>The operation's name and its input (for S3, the bucket, key and copy source the request names).</summary>
    private (string? Operation, JsonObject Input) Resolve(HttpContext http, string modelName, bool s3)
    {
        var members = new JsonObject();
        ServiceModel model;
        try
        {
            model = ServiceModel.Get(modelName);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            return (null, members);
        }

        var dispatcher = _dispatchers.GetOrAdd(modelName, _ => new ModelDispatcher(model, new Dictionary<string, OperationHandler>()));
        var body = s3 ? ReadOnlyMemory<byte>.Empty : BufferedBody(http);
        var request = ModelService.ToProtocolRequest(http, body, s3 ? PathStyle(http) : null);
        var codec = dispatcher.PickCodec(request);
        var operation = codec.ResolveOperation(request, out var name);
        if (operation is null)
        {
            return (null, members);
        }

        if (s3)
        {
            // Bucket and key from the (path-style) path itself: what S3 will act on.
            var path = request.Path.TrimStart('/');
            int slash = path.IndexOf('/', StringComparison.Ordinal);
            if (path.Length > 0)
            {
                members["Bucket"] = Uri.UnescapeDataString(slash < 0 ? path : path[..slash]);
            }

            if (slash >= 0 && slash + 1 < path.Length)
            {
                members["Key"] = Uri.UnescapeDataString(path[(slash + 1)..]);
            }

            if (http.Request.Headers["x-amz-copy-source"].ToString() is { Length: > 0 } source)
            {
                members["CopySource"] = source;
            }

            return (operation.Name, members);
        }

        try
        {
            var input = request.ContentType.Contains("cbor", StringComparison.Ordinal) && request.Header("X-Amz-Target") is not null
                ? CborBody.ReadStructure(operation.Input, body)
                : codec.ParseInput(operation, request);
            return (operation.Name, input);
        }
        catch (Exception e) when (e is JsonException or ServiceException or FormatException or InvalidOperationException or System.Formats.Cbor.CborContentException)
        {
            return (operation.Name, members); // unreadable input: the resource stays "*", which no specific Allow matches
        }

    }

    /// <summary>The body the authenticator buffered (it is a MemoryStream by now), without consuming it.</summary>
    private static ReadOnlyMemory<byte> BufferedBody(HttpContext http) =>
        http.Request.Body is MemoryStream buffered ? buffered.GetBuffer().AsMemory(0, (int)buffered.Length) : ReadOnlyMemory<byte>.Empty;

    /// <summary>A virtual-hosted S3 request's path in path style (<c>/bucket/key</c>), or null when it is path style already.</summary>
    private static string? PathStyle(HttpContext http) =>
        VirtualHost.BucketOf(http.Request.Host.Host) is { } bucket ? "/" + bucket + (http.Request.Path.Value ?? "/") : null;
}
