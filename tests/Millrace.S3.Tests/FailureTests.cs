using System.Net;
using System.Reflection;
using Microsoft.AspNetCore.Http;
using Millrace.Storage.Objects;

namespace Millrace.S3.Tests;

/// <summary>An object store whose every call fails: the service must answer InternalError, never a broken response.</summary>
public class FailingStore : DispatchProxy
{
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod?.Name == nameof(IAsyncDisposable.DisposeAsync) ? ValueTask.CompletedTask : throw new InvalidOperationException("disk on fire");

    public static IObjectStore Create() => DispatchProxy.Create<IObjectStore, FailingStore>();
}

public sealed class FailureTests
{
    [Fact]
    public async Task Unexpected_exceptions_become_internal_error_xml()
    {
        var service = new S3Service(FailingStore.Create(), new S3Options());
        foreach (var (method, path) in new[] { ("GET", "/"), ("GET", "/bucket/key"), ("PUT", "/bucket/key"), ("HEAD", "/bucket/key") })
        {
            var http = new DefaultHttpContext();
            http.Request.Method = method;
            http.Request.Path = path;
            http.Request.Host = new HostString("127.0.0.1");
            http.Request.ContentLength = 0;
            http.Response.Body = new MemoryStream();
            await service.HandleAsync(http);
            Assert.Equal(500, http.Response.StatusCode);
            Assert.False(string.IsNullOrEmpty(http.Response.Headers["x-amz-request-id"]));
            var body = System.Text.Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());
            if (method == "HEAD")
            {
                Assert.Empty(body);
            }
            else
            {
                Assert.Contains("<Code>InternalError</Code>", body, StringComparison.Ordinal);
                Assert.DoesNotContain("disk on fire", body, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task A_failed_upload_leaves_the_old_object()
    {
        await using var s3 = await S3TestServer.StartAsync();
        await s3.CreateBucketAsync("keep");
        (await s3.PutAsync("/keep/k", "original")).Dispose();
        // A chunked body that ends early: IncompleteBody, nothing committed.
        using var broken = await s3.PutAsync("/keep/k", "5\r\nab", ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"));
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
        Assert.Equal("IncompleteBody", (await Xml.ErrorAsync(broken)).Code);
        using var get = await s3.GetAsync("/keep/k");
        Assert.Equal("original", await get.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Concurrent_overwrites_leave_one_complete_version()
    {
        await using var s3 = await S3TestServer.StartAsync();
        await s3.CreateBucketAsync("race");
        var bodies = Enumerable.Range(0, 8).Select(i => Enumerable.Repeat((byte)('a' + i), 200_000).ToArray()).ToArray();
        await Task.WhenAll(bodies.Select(async b => (await s3.PutAsync("/race/k", b)).Dispose()));
        using var get = await s3.GetAsync("/race/k");
        var result = await get.Content.ReadAsByteArrayAsync();
        Assert.Contains(bodies, b => b.AsSpan().SequenceEqual(result));
    }
}
