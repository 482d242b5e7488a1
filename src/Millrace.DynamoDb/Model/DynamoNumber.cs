using System.Globalization;
using System.Numerics;
using System.Text;

namespace Millrace.DynamoDb.Model;

/// <summary>
/// A DynamoDB number: up to 38 significant digits, magnitude 1E-130 to below 1E+126, exact decimal arithmetic.
/// Held normalised as Unscaled × 10^Exponent with no trailing zeros in Unscaled, so equal numbers are equal structs.
/// </summary>
public readonly struct DynamoNumber : IEquatable<DynamoNumber>, IComparable<DynamoNumber>
{
    public const int MaxDigits = 38;

    private DynamoNumber(BigInteger unscaled, int exponent)
    {
        if (unscaled.IsZero)
        {
            exponent = 0;
        }
        else
        {
            while (unscaled % 10 == 0)
            {
                unscaled /= 10;
                exponent++;
            }
        }

        Unscaled = unscaled;
        Exponent = exponent;
    }

    public BigInteger Unscaled { get; }

    public int Exponent { get; }

    public bool IsZero => Unscaled.IsZero;

    public int Sign => Unscaled.Sign;

    public static DynamoNumber FromLong(long value) => new(value, 0);

    /// <summary>Number of significant digits of the unscaled value.</summary>
    public int Digits => Unscaled.IsZero ? 1 : BigInteger.Abs(Unscaled).ToString(CultureInfo.InvariantCulture).Length;

    /// <summary>Parses DynamoDB's number syntax; throws the ValidationException DynamoDB answers for bad numbers.</summary>
    public static DynamoNumber Parse(string text)
    {
        if (!TryParse(text, out var number))
        {
            throw DynamoDbException.Validation("A value provided cannot be converted into a number");
        }

        return number.Checked();
    }

    public static bool TryParse(string text, out DynamoNumber number)
    {
        number = default;
        var s = text.AsSpan().Trim();
        if (s.IsEmpty)
        {
            return false;
        }

        bool negative = false;
        if (s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        var digits = new StringBuilder();
        int exponent = 0;
        int i = 0;
        bool any = false;
        while (i < s.Length && char.IsAsciiDigit(s[i]))
        {
            digits.Append(s[i++]);
            any = true;
        }

        if (i < s.Length && s[i] == '.')
        {
            i++;
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                digits.Append(s[i++]);
                exponent--;
                any = true;
            }
        }

        if (!any)
        {
            return false;
        }

        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (!int.TryParse(s[i..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int e) || e is > 100000 or < -100000)
            {
                return false;
            }

            exponent += e;
            i = s.Length;
        }

        if (i != s.Length)
        {
            return false;
        }

        var unscaled = BigInteger.Parse(digits.ToString(), CultureInfo.InvariantCulture);
        number = new DynamoNumber(negative ? -unscaled : unscaled, exponent);
        return true;
    }

    /// <summary>Enforces DynamoDB's precision and range.</summary>
    public DynamoNumber Checked()
    {
        if (IsZero)
        {
            return this;
        }

        if (Digits > MaxDigits)
        {
            throw DynamoDbException.Validation("Attempting to store more than 38 significant digits in a Number");
        }

        int magnitude = Exponent + Digits - 1; // power of ten of the leading digit
        if (magnitude > 125)
        {
            throw DynamoDbException.Validation("Number overflow. Attempting to store a number with magnitude larger than supported range");
        }

        if (magnitude < -130)
        {
            throw DynamoDbException.Validation("Number underflow. Attempting to store a number with magnitude smaller than supported range");
        }

        return this;
    }

    public static DynamoNumber operator +(DynamoNumber a, DynamoNumber b)
    {
        int e = Math.Min(a.Exponent, b.Exponent);
        return new DynamoNumber(a.Unscaled * BigInteger.Pow(10, a.Exponent - e) + b.Unscaled * BigInteger.Pow(10, b.Exponent - e), e);
    }

    public static DynamoNumber operator -(DynamoNumber a) => new(-a.Unscaled, a.Exponent);

    public static DynamoNumber operator -(DynamoNumber a, DynamoNumber b) => a + -b;

    public int CompareTo(DynamoNumber other)
    {
        if (Sign != other.Sign)
        {
            return Sign.CompareTo(other.Sign);
        }

        int e = Math.Min(Exponent, other.Exponent);
        // Align cheaply: a huge exponent gap decides by magnitude before any big multiplication.
        int ma = Exponent + Digits, mb = other.Exponent + other.Digits;
        if (ma != mb && Sign != 0)
        {
            return Sign > 0 ? ma.CompareTo(mb) : mb.CompareTo(ma);
        }

        return (Unscaled * BigInteger.Pow(10, Exponent - e)).CompareTo(other.Unscaled * BigInteger.Pow(10, other.Exponent - e));
    }

    public bool Equals(DynamoNumber other) => Unscaled == other.Unscaled && Exponent == other.Exponent;

    public override bool Equals(object? obj) => obj is DynamoNumber n && Equals(n);

    public override int GetHashCode() => HashCode.Combine(Unscaled, Exponent);

    public static bool operator ==(DynamoNumber a, DynamoNumber b) => a.Equals(b);

    public static bool operator !=(DynamoNumber a, DynamoNumber b) => !a.Equals(b);

    public static bool operator <(DynamoNumber a, DynamoNumber b) => a.CompareTo(b) < 0;

    public static bool operator >(DynamoNumber a, DynamoNumber b) => a.CompareTo(b) > 0;

    public static bool operator <=(DynamoNumber a, DynamoNumber b) => a.CompareTo(b) <= 0;

    public static bool operator >=(DynamoNumber a, DynamoNumber b) => a.CompareTo(b) >= 0;

    /// <summary>Plain decimal notation without exponent or trailing zeros, as DynamoDB returns numbers.</summary>
    public override string ToString()
    {
        if (IsZero)
        {
            return "0";
        }

        string digits = BigInteger.Abs(Unscaled).ToString(CultureInfo.InvariantCulture);
        string sign = Unscaled.Sign < 0 ? "-" : "";
        if (Exponent >= 0)
        {
            return sign + digits + new string('0', Exponent);
        }

        int point = digits.Length + Exponent;
        return point > 0
            ? sign + digits[..point] + "." + digits[point..]
            : sign + "0." + new string('0', -point) + digits;
    }

    /// <summary>
    /// Bytes whose ordinal order is the numeric order: a sign class byte, then the leading digit's power of ten and
    /// the digits (complemented for negatives, with a terminator that sorts shorter digit strings correctly).
    /// </summary>
    public byte[] ToOrderedBytes()
    {
        if (IsZero)
        {
            return [0x80];
        }

        string digits = BigInteger.Abs(Unscaled).ToString(CultureInfo.InvariantCulture);
        int magnitude = Exponent + digits.Length - 1 + 1000; // always positive within DynamoDB's range
        var bytes = new byte[3 + digits.Length + 1];
        bool negative = Unscaled.Sign < 0;
        bytes[0] = negative ? (byte)0x40 : (byte)0xC0;
        ushort m = negative ? (ushort)(ushort.MaxValue - magnitude) : (ushort)magnitude;
        bytes[1] = (byte)(m >> 8);
        bytes[2] = (byte)m;
        for (int i = 0; i < digits.Length; i++)
        {
            byte d = (byte)(digits[i] - '0' + 1); // 1..10
            bytes[3 + i] = negative ? (byte)(11 - d) : d;
        }

        bytes[^1] = negative ? (byte)0xFF : (byte)0x00; // -1 > -1.2: the shorter negative must sort after
        return bytes;
    }
}
