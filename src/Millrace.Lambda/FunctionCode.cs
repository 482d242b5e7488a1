using System.IO.Compression;
using System.Security.Cryptography;

namespace Millrace.Lambda;

/// <summary>Code archives: validated as zips, hashed as Lambda does (base64 SHA-256), unpacked once per hash.</summary>
internal static class FunctionCode
{
    /// <summary>Lambda's limit on a zip uploaded directly (50 MB) and on the unpacked code (250 MB).</summary>
    public const long MaxZipBytes = 50L * 1024 * 1024;
    public const long MaxUnzippedBytes = 250L * 1024 * 1024;

    public static string Sha256(byte[] archive) => Convert.ToBase64String(SHA256.HashData(archive));

    /// <summary>Why the archive cannot be a function's code, or null when it can.</summary>
    public static string? Check(byte[] archive)
    {
        try
        {
            using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
            var total = zip.Entries.Sum(e => e.Length);
            return total > MaxUnzippedBytes
                ? $"Unzipped size must be smaller than {MaxUnzippedBytes} bytes"
                : null;
        }
        catch (InvalidDataException)
        {
            return "Could not unzip uploaded file. Please check your file, then try to upload again.";
        }
    }

    /// <summary>Unpacks an archive into a directory, replacing files already there; a <c>bootstrap</c> is made executable.</summary>
    public static void ExtractInto(string directory, byte[] archive)
    {
        using (var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read))
        {
            // ExtractToDirectory refuses entries that would land outside the directory, and keeps Unix modes.
            zip.ExtractToDirectory(directory, overwriteFiles: true);
        }

        var bootstrap = Path.Combine(directory, "bootstrap");
        if (File.Exists(bootstrap) && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(bootstrap, File.GetUnixFileMode(bootstrap) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.UserRead);
        }
    }

    /// <summary>The directory holding the unpacked archive, unpacking it first if needed (atomically: into a temporary directory, then renamed).</summary>
    public static string Unpack(string root, string sha256, byte[] archive)
    {
        var name = Convert.ToHexStringLower(Convert.FromBase64String(sha256));
        var target = Path.Combine(root, name);
        if (Directory.Exists(target))
        {
            return target;
        }

        Directory.CreateDirectory(root);
        var temp = Path.Combine(root, $".{name}.{Guid.NewGuid():N}");
        ExtractInto(temp, archive);

        return MoveIntoPlace(temp, target);
    }

    /// <summary>Renames a directory unpacked aside to its cache name, unless a concurrent call got there first.</summary>
    public static string MoveIntoPlace(string temp, string target)
    {
        try
        {
            Directory.Move(temp, target);
        }
        catch (IOException) when (Directory.Exists(target))
        {
            Directory.Delete(temp, recursive: true); // unpacked by a concurrent call
        }

        return target;
    }
}
