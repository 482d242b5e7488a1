using System.Globalization;

namespace Millrace.S3;

/// <summary>A Range header resolved against an object's size.</summary>
internal readonly record struct ByteRange(long Offset, long Length)
{
    public long Last => Offset + Length - 1;

    /// <summary>
    /// Resolves <c>bytes=a-b</c>, <c>bytes=a-</c> or <c>bytes=-n</c>. Null means serve the whole object (no header, a
    /// header S3 ignores: malformed, another unit, several ranges); an unsatisfiable range raises InvalidRange.
    /// </summary>
    public static ByteRange? Parse(string? header, long size)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return null;
        }

        var value = header.Trim();
        if (!value.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var spec = value[6..].Trim();
        if (spec.Contains(',', StringComparison.Ordinal))
        {
            return null; // several ranges: S3 serves the whole object
        }

        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return null;
        }

        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // Suffix: the last n bytes.
            if (!TryParse(last, out long n))
            {
                return null;
            }

            if (n == 0 || size == 0)
            {
                throw S3Errors.InvalidRange(value, size);
            }

            n = Math.Min(n, size);
            return new ByteRange(size - n, n);
        }

        if (!TryParse(first, out long start))
        {
            return null;
        }

        long end;
        if (last.Length == 0)
        {
            end = size - 1;
        }
        else if (!TryParse(last, out end) || end < start)
        {
            return null;
        }

        if (start >= size)
        {
            throw S3Errors.InvalidRange(value, size);
        }

        end = Math.Min(end, size - 1);
        return new ByteRange(start, end - start + 1);
    }

    /// <summary>x-amz-copy-source-range: <c>bytes=a-b</c> inside the source, else InvalidArgument.</summary>
    public static ByteRange ParseCopySourceRange(string header, long size)
    {
        var value = header.Trim();
        var bad = S3Errors.InvalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy", "x-amz-copy-source-range", header);
        if (!value.StartsWith("bytes=", StringComparison.Ordinal))
        {
            throw bad;
        }

        var spec = value[6..];
        int dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || !TryParse(spec[..dash], out long start) || !TryParse(spec[(dash + 1)..], out long end) || end < start)
        {
            throw bad;
        }

        if (end >= size)
        {
            throw S3Errors.InvalidArgument("Range specified is not valid for source object of size: " + size.ToString(CultureInfo.InvariantCulture), "x-amz-copy-source-range", header);
        }

        return new ByteRange(start, end - start + 1);
    }

    public string ContentRange(long size) =>
        string.Create(CultureInfo.InvariantCulture, $"bytes {Offset}-{Last}/{size}");

    private static bool TryParse(string s, out long value) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
