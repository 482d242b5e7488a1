using System.Net;
using System.Security.Cryptography;
using Millrace.Storage.Objects;

namespace Millrace.S3.Tests;

/// <summary>
/// S3 on the main endpoint of a real <c>millrace serve</c>: routed by the gateway (SigV4 scope "s3", unsigned
/// REST verbs, virtual-hosted Host), stored durably (the data survives a kill and a restart).
/// </summary>
public sealed class HostTests
{
    private const string Authorization = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>The host cannot serve S3 before the file store exists (it is built in parallel).</summary>
    private static async Task<bool> FileStoreAvailableAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "millrace-s3-probe-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var store = await FileObjectStore.OpenAsync(new ObjectStoreOptions { DataDirectory = dir });
            return true;
        }
        catch (NotImplementedException)
        {
            return false;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static HttpRequestMessage Signed(HttpMethod method, string path, byte[]? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new ByteArrayContent(body) };
        request.Headers.TryAddWithoutValidation("Authorization", Authorization);
        request.Headers.TryAddWithoutValidation("x-amz-date", "20260101T000000Z");
        request.Headers.TryAddWithoutValidation("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
        return request;
    }

    [Fact]
    public async Task Served_on_the_main_endpoint_and_durable_across_a_kill()
    {
        if (!await FileStoreAvailableAsync())
        {
            return;
        }

        await using var server = await MillraceProcess.StartAsync();
        var data = RandomNumberGenerator.GetBytes(300_000);
        using (var http = new HttpClient { BaseAddress = new Uri(server.Endpoint) })
        {
            using var create = await http.SendAsync(Signed(HttpMethod.Put, "/host-bucket"));
            Assert.Equal(HttpStatusCode.OK, create.StatusCode);
            using var put = await http.SendAsync(Signed(HttpMethod.Put, "/host-bucket/dir/obj", data));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);

            // Unsigned path-style and virtual-hosted requests reach S3 too.
            using var unsigned = await http.GetAsync("/host-bucket/dir/obj");
            Assert.Equal(data, await unsigned.Content.ReadAsByteArrayAsync());
            var vhost = new HttpRequestMessage(HttpMethod.Get, "/dir/obj");
            vhost.Headers.Host = "host-bucket.s3.us-east-1.amazonaws.com";
            using var viaHost = await http.SendAsync(vhost);
            Assert.Equal(data, await viaHost.Content.ReadAsByteArrayAsync());

            using var missing = await http.SendAsync(Signed(HttpMethod.Get, "/host-bucket/none"));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("<Code>NoSuchKey</Code>", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        server.Kill();
        await server.RestartAsync();
        using (var http = new HttpClient { BaseAddress = new Uri(server.Endpoint) })
        {
            using var get = await http.SendAsync(Signed(HttpMethod.Get, "/host-bucket/dir/obj"));
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
            using var list = await http.SendAsync(Signed(HttpMethod.Get, "/host-bucket?list-type=2"));
            Assert.Contains("<Key>dir/obj</Key>", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }
}
