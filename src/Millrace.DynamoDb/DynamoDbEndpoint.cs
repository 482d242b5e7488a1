using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Millrace.Gateway;
using Millrace.Protocol.Wire;

namespace Millrace.DynamoDb;

/// <summary>
/// The DynamoDB JSON 1.0 front door: POST with <c>X-Amz-Target: DynamoDB_20120810.&lt;Operation&gt;</c>, answered by
/// <see cref="DynamoDbService"/>, on the one endpoint (and on <c>--dynamodb-port</c> when one is named).
/// Signatures are verified by the front door (<c>--auth sigv4</c>).
/// </summary>
public sealed class DynamoDbEndpoint(DynamoDbService service, ILogger<DynamoDbEndpoint> logger) : IAwsService
{
    private const int MaxBodyBytes = 16 * 1024 * 1024;

    public string Name => "dynamodb";

    public ServiceRoutes Routes { get; } = new()
    {
        TargetPrefixes = [DynamoDbService.TargetPrefix.TrimEnd('.')],
        SigningNames = ["dynamodb"],
    };

    /// <inheritdoc/>
    public Task WriteErrorAsync(HttpContext http, ServiceException error)
    {
        http.Response.Headers["x-amzn-RequestId"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(26));
        return WriteAsync(http.Response, DynamoDbService.Error(new DynamoDbException(error.Code, error.ErrorMessage ?? error.Code, error.Status ?? 400,
            "com.amazon.coral.service#")));
    }

    public async Task HandleAsync(HttpContext http)
    {
        var request = http.Request;
        var response = http.Response;
        response.Headers["x-amzn-RequestId"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(26));

        if (HttpMethods.IsGet(request.Method))
        {
            // DynamoDB answers a plain GET with a health line; handy for readiness probes.
            response.ContentType = "text/plain";
            await response.WriteAsync("healthy: dynamodb.millrace ", http.RequestAborted);
            return;
        }

        var target = request.Headers["X-Amz-Target"].ToString();
        var operation = target.StartsWith(DynamoDbService.TargetPrefix, StringComparison.Ordinal) ? target[DynamoDbService.TargetPrefix.Length..] : null;
        if (!HttpMethods.IsPost(request.Method) || request.ContentLength > MaxBodyBytes)
        {
            await WriteAsync(response, DynamoDbService.Error(DynamoDbException.UnknownOperation()));
            return;
        }

        try
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, http.RequestAborted);
            var result = await service.HandleAsync(operation, body.GetBuffer().AsMemory(0, (int)body.Length), http.RequestAborted);
            await WriteAsync(response, result);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "DynamoDB {Operation} failed", operation);
            await WriteAsync(response, DynamoDbService.Error(DynamoDbException.InternalServerError()));
        }
    }

    private static async Task WriteAsync(HttpResponse response, DynamoDbResponse result)
    {
        response.StatusCode = result.Status;
        response.ContentType = DynamoDbService.ContentType;
        response.ContentLength = result.Body.Length;
        await response.Body.WriteAsync(result.Body);
    }
}
