using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Millrace.Aggregation;

/// <summary>
/// MD5 (RFC 1321) for short inputs such as partition keys. The platform's one-shot MD5 goes through OpenSSL and costs
/// over a microsecond per call on Linux, most of it setup; producing a million records hashes a million keys, so this
/// small managed version (no allocation, one or two 64-byte blocks for keys up to 119 bytes) is used instead.
/// </summary>
internal static class Md5
{
    /// <summary>Writes the 16-byte digest of <paramref name="data"/> to <paramref name="digest"/>.</summary>
    public static void HashData(ReadOnlySpan<byte> data, Span<byte> digest)
    {
        uint a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
        int full = data.Length & ~63;
        for (int offset = 0; offset < full; offset += 64)
        {
            Block(data.Slice(offset, 64), ref a0, ref b0, ref c0, ref d0);
        }

        // The tail, 0x80, zeros, and the bit length: one or two final blocks.
        Span<byte> tail = stackalloc byte[128];
        tail.Clear();
        int rest = data.Length - full;
        data[full..].CopyTo(tail);
        tail[rest] = 0x80;
        int tailLength = rest < 56 ? 64 : 128;
        BinaryPrimitives.WriteUInt64LittleEndian(tail.Slice(tailLength - 8), (ulong)data.Length * 8);
        Block(tail[..64], ref a0, ref b0, ref c0, ref d0);
        if (tailLength == 128)
        {
            Block(tail.Slice(64, 64), ref a0, ref b0, ref c0, ref d0);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(digest, a0);
        BinaryPrimitives.WriteUInt32LittleEndian(digest[4..], b0);
        BinaryPrimitives.WriteUInt32LittleEndian(digest[8..], c0);
        BinaryPrimitives.WriteUInt32LittleEndian(digest[12..], d0);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(ReadOnlySpan<byte> block, ref uint a0, ref uint b0, ref uint c0, ref uint d0)
    {
        if (block.Length < 64)
        {
            throw new ArgumentException("An MD5 block is 64 bytes.", nameof(block));
        }

        uint m0 = BinaryPrimitives.ReadUInt32LittleEndian(block[0..]);
        uint m1 = BinaryPrimitives.ReadUInt32LittleEndian(block[4..]);
        uint m2 = BinaryPrimitives.ReadUInt32LittleEndian(block[8..]);
        uint m3 = BinaryPrimitives.ReadUInt32LittleEndian(block[12..]);
        uint m4 = BinaryPrimitives.ReadUInt32LittleEndian(block[16..]);
        uint m5 = BinaryPrimitives.ReadUInt32LittleEndian(block[20..]);
        uint m6 = BinaryPrimitives.ReadUInt32LittleEndian(block[24..]);
        uint m7 = BinaryPrimitives.ReadUInt32LittleEndian(block[28..]);
        uint m8 = BinaryPrimitives.ReadUInt32LittleEndian(block[32..]);
        uint m9 = BinaryPrimitives.ReadUInt32LittleEndian(block[36..]);
        uint m10 = BinaryPrimitives.ReadUInt32LittleEndian(block[40..]);
        uint m11 = BinaryPrimitives.ReadUInt32LittleEndian(block[44..]);
        uint m12 = BinaryPrimitives.ReadUInt32LittleEndian(block[48..]);
        uint m13 = BinaryPrimitives.ReadUInt32LittleEndian(block[52..]);
        uint m14 = BinaryPrimitives.ReadUInt32LittleEndian(block[56..]);
        uint m15 = BinaryPrimitives.ReadUInt32LittleEndian(block[60..]);
        uint a = a0, b = b0, c = c0, d = d0;
        a = F(a, b, c, d, m0, 7, 0xd76aa478);
        d = F(d, a, b, c, m1, 12, 0xe8c7b756);
        c = F(c, d, a, b, m2, 17, 0x242070db);
        b = F(b, c, d, a, m3, 22, 0xc1bdceee);
        a = F(a, b, c, d, m4, 7, 0xf57c0faf);
        d = F(d, a, b, c, m5, 12, 0x4787c62a);
        c = F(c, d, a, b, m6, 17, 0xa8304613);
        b = F(b, c, d, a, m7, 22, 0xfd469501);
        a = F(a, b, c, d, m8, 7, 0x698098d8);
        d = F(d, a, b, c, m9, 12, 0x8b44f7af);
        c = F(c, d, a, b, m10, 17, 0xffff5bb1);
        b = F(b, c, d, a, m11, 22, 0x895cd7be);
        a = F(a, b, c, d, m12, 7, 0x6b901122);
        d = F(d, a, b, c, m13, 12, 0xfd987193);
        c = F(c, d, a, b, m14, 17, 0xa679438e);
        b = F(b, c, d, a, m15, 22, 0x49b40821);
        a = G(a, b, c, d, m1, 5, 0xf61e2562);
        d = G(d, a, b, c, m6, 9, 0xc040b340);
        c = G(c, d, a, b, m11, 14, 0x265e5a51);
        b = G(b, c, d, a, m0, 20, 0xe9b6c7aa);
        a = G(a, b, c, d, m5, 5, 0xd62f105d);
        d = G(d, a, b, c, m10, 9, 0x02441453);
        c = G(c, d, a, b, m15, 14, 0xd8a1e681);
        b = G(b, c, d, a, m4, 20, 0xe7d3fbc8);
        a = G(a, b, c, d, m9, 5, 0x21e1cde6);
        d = G(d, a, b, c, m14, 9, 0xc33707d6);
        c = G(c, d, a, b, m3, 14, 0xf4d50d87);
        b = G(b, c, d, a, m8, 20, 0x455a14ed);
        a = G(a, b, c, d, m13, 5, 0xa9e3e905);
        d = G(d, a, b, c, m2, 9, 0xfcefa3f8);
        c = G(c, d, a, b, m7, 14, 0x676f02d9);
        b = G(b, c, d, a, m12, 20, 0x8d2a4c8a);
        a = H(a, b, c, d, m5, 4, 0xfffa3942);
        d = H(d, a, b, c, m8, 11, 0x8771f681);
        c = H(c, d, a, b, m11, 16, 0x6d9d6122);
        b = H(b, c, d, a, m14, 23, 0xfde5380c);
        a = H(a, b, c, d, m1, 4, 0xa4beea44);
        d = H(d, a, b, c, m4, 11, 0x4bdecfa9);
        c = H(c, d, a, b, m7, 16, 0xf6bb4b60);
        b = H(b, c, d, a, m10, 23, 0xbebfbc70);
        a = H(a, b, c, d, m13, 4, 0x289b7ec6);
        d = H(d, a, b, c, m0, 11, 0xeaa127fa);
        c = H(c, d, a, b, m3, 16, 0xd4ef3085);
        b = H(b, c, d, a, m6, 23, 0x04881d05);
        a = H(a, b, c, d, m9, 4, 0xd9d4d039);
        d = H(d, a, b, c, m12, 11, 0xe6db99e5);
        c = H(c, d, a, b, m15, 16, 0x1fa27cf8);
        b = H(b, c, d, a, m2, 23, 0xc4ac5665);
        a = I(a, b, c, d, m0, 6, 0xf4292244);
        d = I(d, a, b, c, m7, 10, 0x432aff97);
        c = I(c, d, a, b, m14, 15, 0xab9423a7);
        b = I(b, c, d, a, m5, 21, 0xfc93a039);
        a = I(a, b, c, d, m12, 6, 0x655b59c3);
        d = I(d, a, b, c, m3, 10, 0x8f0ccc92);
        c = I(c, d, a, b, m10, 15, 0xffeff47d);
        b = I(b, c, d, a, m1, 21, 0x85845dd1);
        a = I(a, b, c, d, m8, 6, 0x6fa87e4f);
        d = I(d, a, b, c, m15, 10, 0xfe2ce6e0);
        c = I(c, d, a, b, m6, 15, 0xa3014314);
        b = I(b, c, d, a, m13, 21, 0x4e0811a1);
        a = I(a, b, c, d, m4, 6, 0xf7537e82);
        d = I(d, a, b, c, m11, 10, 0xbd3af235);
        c = I(c, d, a, b, m2, 15, 0x2ad7d2bb);
        b = I(b, c, d, a, m9, 21, 0xeb86d391);
        a0 += a;
        b0 += b;
        c0 += c;
        d0 += d;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint F(uint a, uint b, uint c, uint d, uint m, int s, uint k) => b + uint.RotateLeft(a + ((b & c) | (~b & d)) + m + k, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint G(uint a, uint b, uint c, uint d, uint m, int s, uint k) => b + uint.RotateLeft(a + ((d & b) | (~d & c)) + m + k, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint H(uint a, uint b, uint c, uint d, uint m, int s, uint k) => b + uint.RotateLeft(a + (b ^ c ^ d) + m + k, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint I(uint a, uint b, uint c, uint d, uint m, int s, uint k) => b + uint.RotateLeft(a + (c ^ (b | ~d)) + m + k, s);
}
