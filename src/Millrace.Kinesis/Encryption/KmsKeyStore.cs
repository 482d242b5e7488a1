using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis.Encryption;

/// <summary>
/// The operator's KMS stand-in: a directory of 256-bit keys. Each key is a file named by its key id (by convention a
/// UUID) holding exactly 32 random bytes; aliases live in <c>aliases.json</c> (<c>{"alias/name": "key-id"}</c>).
/// <c>alias/aws/kinesis</c> gets a fresh key the first time it is used. KeyId is accepted in every form Kinesis
/// takes: key id, key ARN, alias name, alias ARN. See README.md ("Encryption at rest").
/// </summary>
public sealed partial class KmsKeyStore : IEncryptionKeyProvider
{
    public const string AliasesFileName = "aliases.json";
    public const string KinesisDefaultAlias = "alias/aws/kinesis";
    private const int KeySize = 32;

    private readonly string _directory;
    private readonly string _region;
    private readonly string _accountId;
    private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);
    private readonly Lock _createLock = new();

    public KmsKeyStore(string directory, string region, string accountId)
    {
        _directory = Path.GetFullPath(directory);
        _region = region;
        _accountId = accountId;
    }

    public string Directory => _directory;

    public string KeyArn(string keyId) => $"arn:aws:kms:{_region}:{_accountId}:key/{keyId}";

    public string AliasArn(string alias) => $"arn:aws:kms:{_region}:{_accountId}:{alias}";

    [GeneratedRegex("^[A-Za-z0-9_-]{1,255}$")]
    private static partial Regex KeyIdPattern();

    [GeneratedRegex("^alias/[A-Za-z0-9/_-]{1,250}$")]
    private static partial Regex AliasPattern();

    /// <summary>The key id a Kinesis KeyId (key id, key ARN, alias name or alias ARN) names, with its key present
    /// and usable; otherwise the KMS exception Kinesis answers with. <paramref name="createDefault"/>: whether
    /// alias/aws/kinesis may create its key.</summary>
    public string Resolve(string keyId, bool createDefault = true)
    {
        string id;
        if (keyId.StartsWith("arn:", StringComparison.Ordinal))
        {
            // arn:<partition>:kms:<region>:<account>:key/<id> or ...:alias/<name>
            var parts = keyId.Split(':', 6);
            if (parts.Length != 6 || parts[2] != "kms" || parts[3] != _region || parts[4] != _accountId)
            {
                throw NotFound(parts.Length == 6 && parts[5].StartsWith("alias/", StringComparison.Ordinal)
                    ? $"Alias {keyId} is not found."
                    : $"Key '{keyId}' does not exist");
            }

            if (parts[5].StartsWith("key/", StringComparison.Ordinal))
            {
                id = parts[5]["key/".Length..];
            }
            else if (parts[5].StartsWith("alias/", StringComparison.Ordinal))
            {
                id = ResolveAlias(parts[5], createDefault);
            }
            else
            {
                throw NotFound($"Key '{keyId}' does not exist");
            }
        }
        else if (keyId.StartsWith("alias/", StringComparison.Ordinal))
        {
            id = ResolveAlias(keyId, createDefault);
        }
        else
        {
            id = keyId;
        }

        if (!KeyIdPattern().IsMatch(id) || !TryLoad(id, out _))
        {
            throw NotFound($"Key '{KeyArn(id)}' does not exist");
        }

        return id;
    }

    private string ResolveAlias(string alias, bool createDefault)
    {
        if (!AliasPattern().IsMatch(alias))
        {
            throw NotFound($"Alias {AliasArn(alias)} is not found.");
        }

        var aliases = ReadAliases();
        if (aliases.TryGetValue(alias, out var id))
        {
            return id;
        }

        if (alias == KinesisDefaultAlias && createDefault)
        {
            return CreateDefaultKey();
        }

        throw NotFound($"Alias {AliasArn(alias)} is not found.");
    }

    /// <summary>Creates the key behind alias/aws/kinesis: key file first, then the alias, each written atomically.</summary>
    private string CreateDefaultKey()
    {
        lock (_createLock)
        {
            var aliases = ReadAliases();
            if (aliases.TryGetValue(KinesisDefaultAlias, out var existing))
            {
                return existing;
            }

            EnsureDirectory();
            string id = Guid.NewGuid().ToString();
            byte[] key = RandomNumberGenerator.GetBytes(KeySize);
            WriteAtomically(Path.Combine(_directory, id), key);
            aliases[KinesisDefaultAlias] = id;
            WriteAtomically(Path.Combine(_directory, AliasesFileName), JsonSerializer.SerializeToUtf8Bytes(
                new SortedDictionary<string, string>(aliases, StringComparer.Ordinal), new JsonSerializerOptions { WriteIndented = true }));
            _keys[id] = key;
            return id;
        }
    }

    /// <summary>Creates a key file with fresh random bytes (for tests and operators); returns its id.</summary>
    public string CreateKey(string? keyId = null)
    {
        keyId ??= Guid.NewGuid().ToString();
        if (!KeyIdPattern().IsMatch(keyId))
        {
            throw new ArgumentException($"Invalid key id {keyId}.", nameof(keyId));
        }

        EnsureDirectory();
        WriteAtomically(Path.Combine(_directory, keyId), RandomNumberGenerator.GetBytes(KeySize));
        return keyId;
    }

    private Dictionary<string, string> ReadAliases()
    {
        string path = Path.Combine(_directory, AliasesFileName);
        if (!File.Exists(path))
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(path))
                ?? new Dictionary<string, string>(StringComparer.Ordinal);
        }
        catch (JsonException ex)
        {
            throw KinesisException.InternalFailure($"The KMS key directory's {AliasesFileName} is not valid JSON: {ex.Message}");
        }
    }

    /// <summary>Storage asks for keys by the ids <see cref="Resolve"/> returned; key bytes are cached once read.</summary>
    public bool TryGetKey(string keyId, Span<byte> key)
    {
        if (!TryLoad(keyId, out var bytes))
        {
            return false;
        }

        bytes.CopyTo(key);
        return true;
    }

    private bool TryLoad(string keyId, out byte[] key)
    {
        if (_keys.TryGetValue(keyId, out key!))
        {
            return true;
        }

        if (!KeyIdPattern().IsMatch(keyId))
        {
            return false;
        }

        string path = Path.Combine(_directory, keyId);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length != KeySize)
            {
                return false;
            }

            key = File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }

        if (key.Length != KeySize)
        {
            return false;
        }

        _keys[keyId] = key;
        return true;
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(_directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void WriteAtomically(string path, byte[] contents)
    {
        string tmp = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var fs = new FileStream(tmp, options))
        {
            fs.Write(contents);
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
    }

    public static KinesisException NotFound(string message) => new("KMSNotFoundException", message);

    /// <summary>The error for records whose key is gone (file removed from the key directory).</summary>
    public KinesisException KeyUnavailable(string keyId) => NotFound($"Key '{KeyArn(keyId)}' does not exist");
}
