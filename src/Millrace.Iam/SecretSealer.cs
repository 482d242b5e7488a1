using System.Security.Cryptography;
using System.Text;

namespace Millrace.Iam;

/// <summary>
/// Seals secret access keys before they reach the store: AES-256-GCM under a key from the project's key directory,
/// a fresh nonce each time, the access key id as associated data (a sealed secret moved to another key id does not
/// open). Sealed form: base64(nonce ‖ tag ‖ ciphertext).
/// </summary>
public sealed class SecretSealer(byte[] key)
{
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public string Seal(string accessKeyId, string secret)
    {
        var plain = Encoding.UTF8.GetBytes(secret);
        var sealedBytes = new byte[NonceSize + TagSize + plain.Length];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(accessKeyId));
        return Convert.ToBase64String(sealedBytes);
    }

    public string Open(string accessKeyId, string sealedSecret)
    {
        var sealedBytes = Convert.FromBase64String(sealedSecret);
        var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize + TagSize), sealedBytes.AsSpan(NonceSize, TagSize), plain,
            Encoding.UTF8.GetBytes(accessKeyId));
        return Encoding.UTF8.GetString(plain);
    }
}
