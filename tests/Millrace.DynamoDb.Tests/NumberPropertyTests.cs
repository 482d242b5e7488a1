using System.Globalization;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Tests;

/// <summary>DynamoDB numbers: exact decimal arithmetic, canonical text, and key bytes that sort like the numbers.</summary>
public sealed class NumberPropertyTests
{
    private static DynamoNumber Number(long unscaled, int scale) =>
        DynamoNumber.Parse(unscaled.ToString(CultureInfo.InvariantCulture) + "E" + (-(scale % 40)).ToString(CultureInfo.InvariantCulture));

    [Property(MaxTest = 500)]
    public bool OrderedBytesSortLikeTheNumbers(long a, int sa, long b, int sb)
    {
        var x = Number(a, Math.Abs(sa));
        var y = Number(b, Math.Abs(sb));
        int byNumber = Math.Sign(x.CompareTo(y));
        int byBytes = Math.Sign(x.ToOrderedBytes().AsSpan().SequenceCompareTo(y.ToOrderedBytes()));
        return byNumber == byBytes;
    }

    [Property(MaxTest = 500)]
    public bool CanonicalTextParsesBackToTheSameNumber(long a, int sa)
    {
        var x = Number(a, Math.Abs(sa));
        var text = x.ToString();
        return DynamoNumber.Parse(text) == x && text == DynamoNumber.Parse(text).ToString();
    }

    [Property(MaxTest = 300)]
    public bool AdditionMatchesDecimal(int a, byte sa, int b, byte sb)
    {
        decimal da = a / (decimal)Math.Pow(10, sa % 6);
        decimal db = b / (decimal)Math.Pow(10, sb % 6);
        var sum = DynamoNumber.Parse(da.ToString(CultureInfo.InvariantCulture)) + DynamoNumber.Parse(db.ToString(CultureInfo.InvariantCulture));
        return sum == DynamoNumber.Parse((da + db).ToString(CultureInfo.InvariantCulture)) && sum.CompareTo(DynamoNumber.Parse(da.ToString(CultureInfo.InvariantCulture))) == Math.Sign(db);
    }

    [Theory]
    [InlineData("1.500", "1.5")]
    [InlineData("0100", "100")]
    [InlineData("-0.0", "0")]
    [InlineData("1E2", "100")]
    [InlineData("12.5e-3", "0.0125")]
    [InlineData("+7", "7")]
    public void CanonicalForms(string input, string canonical) => Assert.Equal(canonical, DynamoNumber.Parse(input).ToString());

    [Theory]
    [InlineData("abc", "A value provided cannot be converted into a number")]
    [InlineData("1.2.3", "A value provided cannot be converted into a number")]
    [InlineData("123456789012345678901234567890123456789", "Attempting to store more than 38 significant digits in a Number")]
    [InlineData("1E126", "Number overflow. Attempting to store a number with magnitude larger than supported range")]
    [InlineData("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    public void InvalidNumbers(string input, string message) =>
        Assert.Equal(message, Assert.Throws<DynamoDbException>(() => DynamoNumber.Parse(input)).Message);
}
