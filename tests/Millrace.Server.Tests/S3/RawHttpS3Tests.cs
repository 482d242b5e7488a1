using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Millrace.Server.Tests.S3;

/// <summary>
/// Raw HTTP against Millrace S3 (unsigned requests; Millrace does not verify signatures): virtual-hosted-style
/// addressing through an explicit Host header (<c>*.localhost</c> does not resolve here), path traversal attempts in
/// keys sent byte-for-byte over a socket (HttpClient would normalise the dot segments), a key over 1,024 bytes, and a
/// PUT declaring more than 5 GiB. Nothing may appear outside <c>&lt;data-dir&gt;/s3</c>.
/// </summary>
public sealed class RawHttpS3Tests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Sends one HTTP/1.1 request exactly as written and returns the status code and the response text.</summary>
    private async Task<(int Status, string Text)> RawAsync(string method, string target, string? host = null, byte[]? body = null, long? declaredLength = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Server.Port);
        var stream = tcp.GetStream();
        var head = new StringBuilder()
            .Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(host ?? $"127.0.0.1:{Server.Port}").Append("\r\n")
            .Append("Content-Length: ").Append(declaredLength ?? body?.Length ?? 0).Append("\r\n")
            .Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (body is not null)
        {
            await stream.WriteAsync(body);
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        try
        {
            while (true)
            {
                int n = await stream.ReadAsync(chunk, cts.Token);
                if (n == 0)
                {
                    break;
                }

                buffer.Write(chunk, 0, n);
                var soFar = Encoding.UTF8.GetString(buffer.ToArray());
                // With a declared body we never send, the server answers and may keep waiting: stop after the headers + error body.
                if (declaredLength is not null && soFar.Contains("</Error>", StringComparison.Ordinal))
                {
                    break;
                }
            }
        }
        catch (IOException) when (buffer.Length > 0)
        {
            // The server may reset the connection after answering a request whose body it refuses to read.
        }

        var text = Encoding.UTF8.GetString(buffer.ToArray());
        Assert.True(text.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), $"no HTTP response to {method} {target}: {text}");
        return (int.Parse(text.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture), text);
    }

    private static List<string> FilesUnder(string dir) =>
        Directory.Exists(dir) ? [.. Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)] : [];

    [Fact]
    public async Task VirtualHostedStyleThroughHostHeader()
    {
        var bucket = S3TestSupport.UniqueBucket("vh");
        var host = $"{bucket}.localhost:{Server.Port}";
        var create = await RawAsync("PUT", "/", host);
        Assert.True(create.Status == 200, create.Text);

        using (var put = new HttpRequestMessage(HttpMethod.Put, $"{Server.Endpoint}/dir/hello.txt") { Content = new ByteArrayContent("virtual hello"u8.ToArray()) })
        {
            put.Headers.Host = host;
            using var response = await Http.SendAsync(put);
            Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        using (var get = new HttpRequestMessage(HttpMethod.Get, $"{Server.Endpoint}/dir/hello.txt"))
        {
            get.Headers.Host = host;
            using var response = await Http.SendAsync(get);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("virtual hello", await response.Content.ReadAsStringAsync());
        }

        // The same object by path style, and the virtual-hosted listing.
        Assert.Equal("virtual hello", await Http.GetStringAsync($"{Server.Endpoint}/{bucket}/dir/hello.txt"));
        using (var list = new HttpRequestMessage(HttpMethod.Get, $"{Server.Endpoint}/?list-type=2"))
        {
            list.Headers.Host = host;
            using var response = await Http.SendAsync(list);
            var xml = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, xml);
            Assert.Contains("<Key>dir/hello.txt</Key>", xml);
            Assert.Contains($"<Name>{bucket}</Name>", xml);
        }
    }

    [Fact]
    public async Task TraversalKeysStayInsideTheStoreAndOversizeIsRefused()
    {
        var bucket = S3TestSupport.UniqueBucket("trav");
        Assert.Equal(200, (await RawAsync("PUT", "/" + bucket)).Status);
        var parent = Path.GetDirectoryName(Server.DataDirectory)!;
        var parentBefore = Directory.EnumerateFileSystemEntries(parent).ToHashSet();
        var outsideS3Before = FilesUnder(Server.DataDirectory).Where(f => !f.StartsWith(Path.Combine(Server.DataDirectory, "s3"), StringComparison.Ordinal)).ToHashSet();

        // Keys are opaque in S3: AWS stores "../../x" literally. Millrace may store them (then they must read back under
        // the same key) or refuse them with a 4xx, but must never write outside its store.
        (string Target, string Key)[] attempts =
        [
            ($"/{bucket}/../../../../etc/x", "../../../../etc/x"),
            ($"/{bucket}/..%2F..%2Fx", "../../x"),
            ($"/{bucket}/a/../../b", "a/../../b"),
            ($"/{bucket}/%2E%2E/%2E%2E/y", "../../y"),
            ($"/{bucket}/..\\..\\z", "..\\..\\z"),
        ];
        foreach (var (target, key) in attempts)
        {
            var put = await RawAsync("PUT", target, body: Encoding.UTF8.GetBytes("payload " + key));
            Assert.True(put.Status is 200 or (>= 400 and < 500), $"PUT {target}: {put.Text}");
            if (put.Status == 200)
            {
                var get = await RawAsync("GET", target);
                Assert.True(get.Status == 200 && get.Text.EndsWith("payload " + key, StringComparison.Ordinal), $"GET {target}: {get.Text}");
                var list = await RawAsync("GET", $"/{bucket}?list-type=2&prefix={Uri.EscapeDataString(key)}");
                Assert.True(list.Text.Contains($"<Key>{System.Security.SecurityElement.Escape(key)}</Key>", StringComparison.Ordinal), $"listing for {key}: {list.Text}");
            }
        }

        // A key of 1,025 UTF-8 bytes (341 three-byte characters + 2 ASCII) is refused; 1,024 is accepted.
        var tooLong = string.Concat(Enumerable.Repeat("€", 341)) + "ab";
        Assert.Equal(1025, Encoding.UTF8.GetByteCount(tooLong));
        var refused = await RawAsync("PUT", $"/{bucket}/{Uri.EscapeDataString(tooLong)}", body: "x"u8.ToArray());
        Assert.True(refused.Status == 400 && refused.Text.Contains("<Code>KeyTooLongError</Code>", StringComparison.Ordinal), refused.Text);
        var longest = await RawAsync("PUT", $"/{bucket}/{Uri.EscapeDataString(tooLong[..^1])}", body: "x"u8.ToArray());
        Assert.True(longest.Status == 200, longest.Text);

        // More than 5 GiB declared, no body sent: EntityTooLarge straight from the headers.
        var oversize = await RawAsync("PUT", $"/{bucket}/huge", declaredLength: (5L * 1024 * 1024 * 1024) + 1);
        Assert.True(oversize.Status == 400 && oversize.Text.Contains("<Code>EntityTooLarge</Code>", StringComparison.Ordinal), oversize.Text);
        Assert.Equal(404, (await RawAsync("HEAD", $"/{bucket}/huge")).Status);

        // Nothing new outside <data-dir>/s3, nothing new next to the data dir, no /etc/x.
        var outsideS3After = FilesUnder(Server.DataDirectory).Where(f => !f.StartsWith(Path.Combine(Server.DataDirectory, "s3"), StringComparison.Ordinal)).ToHashSet();
        Assert.True(outsideS3After.SetEquals(outsideS3Before), "new entries outside <data-dir>/s3: " + string.Join(", ", outsideS3After.Except(outsideS3Before)));
        var strays = Directory.EnumerateFileSystemEntries(parent).Where(e => !parentBefore.Contains(e) && (e.EndsWith("x", StringComparison.Ordinal) || e.EndsWith("b", StringComparison.Ordinal) || e.EndsWith("y", StringComparison.Ordinal) || e.Contains("etc", StringComparison.Ordinal))).ToList();
        Assert.True(strays.Count == 0, "stray entries next to the data dir: " + string.Join(", ", strays));
        Assert.False(File.Exists("/etc/x"));
        foreach (var name in new[] { "x", "b", "y", "etc" })
        {
            Assert.False(Path.Exists(Path.Combine(Server.DataDirectory, name)), name);
            Assert.False(Path.Exists(Path.Combine(Server.DataDirectory, "s3", name)) && !Directory.Exists(Path.Combine(Server.DataDirectory, "s3", name)), "s3/" + name);
        }
    }
}
