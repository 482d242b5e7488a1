using System.Buffers.Text;
using System.Text;

namespace Millrace.Bench.Load;

/// <summary>
/// Finds a few fields in response bodies without parsing them: the bodies are the servers' compact JSON, and the
/// only strings that could hold a quote are ours (partition keys) or base64, so a name search is exact.
/// </summary>
public static class JsonScan
{
    public static long Number(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedName)
    {
        var rest = AfterColon(json, quotedName);
        if (rest.IsEmpty)
        {
            return -1;
        }

        return Utf8Parser.TryParse(rest, out long value, out _) ? value : -1;
    }

    public static string? String(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedName)
    {
        var rest = AfterColon(json, quotedName);
        if (rest.IsEmpty || rest[0] != (byte)'"')
        {
            return null;
        }

        int end = rest[1..].IndexOf((byte)'"');
        return end < 0 ? null : Encoding.UTF8.GetString(rest.Slice(1, end));
    }

    public static int Count(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedName)
    {
        int n = 0;
        int i;
        while ((i = json.IndexOf(quotedName)) >= 0)
        {
            n++;
            json = json[(i + quotedName.Length)..];
        }

        return n;
    }

    private static ReadOnlySpan<byte> AfterColon(ReadOnlySpan<byte> json, ReadOnlySpan<byte> quotedName)
    {
        int i = json.IndexOf(quotedName);
        if (i < 0)
        {
            return default;
        }

        var rest = json[(i + quotedName.Length)..].TrimStart(" \t\r\n"u8);
        if (rest.IsEmpty || rest[0] != (byte)':')
        {
            return default;
        }

        return rest[1..].TrimStart(" \t\r\n"u8);
    }
}
