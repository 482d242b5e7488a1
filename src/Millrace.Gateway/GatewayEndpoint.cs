using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Millrace.Gateway.Authentication;
using Millrace.Protocol.Wire;

namespace Millrace.Gateway;

/// <summary>
/// The one endpoint: every request goes to the service <see cref="ServiceRouter"/> picks. A request no service
/// claims gets what AWS's front door answers when it cannot tell the service: 403 AccessDeniedException
/// (XML, as the front door writes it), or for a JSON POST whose X-Amz-Target names a service Millrace does not serve,
/// 400 UnknownOperationException.
/// </summary>
/// <remarks>With a <see cref="RequestAuthenticator"/> (<c>--auth sigv4</c>) every routed request is verified first and
/// answered with the service's own authentication error when it fails.</remarks>
public sealed class GatewayEndpoint(ServiceRouter router, RequestAuthenticator? authenticator = null, IRequestAuthorizer? authorizer = null)
{
    public ServiceRouter Router => router;

    public Task HandleAsync(HttpContext http)
    {
        var service = router.Route(http.Request);
        if (service is null)
        {
            return FrontDoorErrorAsync(http);
        }

        return authenticator is null ? service.HandleAsync(http) : AuthenticatedAsync(http, service, authenticator, authorizer);
    }

    private static async Task AuthenticatedAsync(HttpContext http, IAwsService service, RequestAuthenticator authenticator, IRequestAuthorizer? authorizer)
    {
        ServiceException? failure;
        try
        {
            failure = await authenticator.AuthenticateAsync(http, service);
            if (failure is null && authorizer is not null && http.Features.Get<Millrace.Protocol.Auth.CallerIdentity>() is { } caller)
            {
                failure = await authorizer.AuthorizeAsync(http, service, caller);
            }
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        if (failure is null)
        {
            await service.HandleAsync(http);
            return;
        }

        await service.WriteErrorAsync(http, failure);
    }

    private static async Task FrontDoorErrorAsync(HttpContext http)
    {
        var response = http.Response;
        response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        var target = http.Request.Headers["X-Amz-Target"].ToString();
        if (target.Length > 0 && HttpMethods.IsPost(http.Request.Method))
        {
            int dot = target.IndexOf('.', StringComparison.Ordinal);
            var service = dot > 0 ? target[..dot] : target;
            response.StatusCode = 400;
            response.ContentType = "application/x-amz-json-1.1";
            var json = $$"""{"__type":"UnknownOperationException","message":"No service at this endpoint serves {{JsonEscape(service)}}."}""";
            await response.WriteAsync(json, http.RequestAborted);
            return;
        }

        response.StatusCode = 403;
        response.ContentType = "text/xml";
        var body = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n";
        response.ContentLength = Encoding.UTF8.GetByteCount(body);
        if (!HttpMethods.IsHead(http.Request.Method))
        {
            await response.WriteAsync(body, http.RequestAborted);
        }
    }

    private static string JsonEscape(string value) =>
        System.Text.Json.JsonEncodedText.Encode(value).ToString();

    /// <summary>A fresh request id in AWS's style for services that want one.</summary>
    public static string NewRequestId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
}
