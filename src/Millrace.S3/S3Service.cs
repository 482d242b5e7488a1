using Microsoft.AspNetCore.Http;
using Millrace.Gateway;
using Millrace.Storage.Objects;

namespace Millrace.S3;

/// <summary>The S3 REST API (rest-xml, path-style and virtual-hosted-style) over an <see cref="IObjectStore"/>.</summary>
public sealed class S3Service(IObjectStore store, S3Options options) : IAwsService
{
    public string Name => "s3";

    public ServiceRoutes Routes { get; } = new() { ObjectStorage = true };

    public IObjectStore Store => store;

    public S3Options Options => options;

    public Task HandleAsync(HttpContext http)
    {
        http.Response.StatusCode = 501;
        return Task.CompletedTask;
    }
}

public sealed class S3Options
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
