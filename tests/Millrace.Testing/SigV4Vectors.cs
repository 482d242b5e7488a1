using System.Text;
using System.Text.Json;

namespace Millrace.Testing;

/// <summary>One request of AWS's published SigV4 test suite: method, path and query as on the request line, the
/// headers in order, and the body.</summary>
public sealed record SigV4VectorRequest(string Method, string Path, string Query, List<KeyValuePair<string, string>> Headers, byte[] Body);

/// <summary>
/// AWS's published SigV4 test suite (tests/Millrace.Client.Tests/SigV4TestSuite; its README says where each vector
/// comes from): the signer's tests and the server's verifier tests read the same vectors.
/// </summary>
public static class SigV4Vectors
{
    public static JsonElement Suite { get; } =
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "SigV4TestSuite", "vectors.json"))).RootElement;

    public static string AccessKeyId => Suite.GetProperty("credentials").GetProperty("accessKeyId").GetString()!;

    public static string SecretAccessKey => Suite.GetProperty("credentials").GetProperty("secretAccessKey").GetString()!;

    public static IEnumerable<string> Names() => Suite.GetProperty("vectors").EnumerateArray().Select(v => v.GetProperty("name").GetString()!);

    public static JsonElement Vector(string name) =>
        Suite.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("name").GetString() == name);

    /// <summary>Parses the suite's request format: "METHOD target HTTP/1.1", "Name:value" lines, a blank line, body.</summary>
    public static SigV4VectorRequest Parse(string request)
    {
        var blank = request.IndexOf("\n\n", StringComparison.Ordinal);
        var head = blank < 0 ? request : request[..blank];
        var body = blank < 0 ? "" : request[(blank + 2)..];
        var lines = head.Split('\n');
        var first = lines[0];
        var method = first[..first.IndexOf(' ', StringComparison.Ordinal)];
        var target = first[(method.Length + 1)..first.LastIndexOf(" HTTP/", StringComparison.Ordinal)];
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var headers = lines.Skip(1).Select(l => new KeyValuePair<string, string>(l[..l.IndexOf(':', StringComparison.Ordinal)], l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..])).ToList();
        return new SigV4VectorRequest(method, q < 0 ? target : target[..q], q < 0 ? "" : target[q..], headers, Encoding.UTF8.GetBytes(body));
    }
}
