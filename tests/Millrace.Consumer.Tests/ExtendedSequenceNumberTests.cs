using System.Numerics;
using FsCheck;
using FsCheck.Xunit;

namespace Millrace.Consumer.Tests;

public sealed class ExtendedSequenceNumberTests
{
    [Property]
    public bool Order_is_by_sequence_number_as_a_number_then_sub_sequence(NonNegativeInt a, NonNegativeInt b, byte subA, byte subB)
    {
        // Sequence numbers of different lengths: numeric order, not string order.
        var x = new ExtendedSequenceNumber((BigInteger.Pow(10, 20) * a.Get).ToString(), subA);
        var y = new ExtendedSequenceNumber((BigInteger.Pow(10, 20) * b.Get + 7).ToString(), subB);
        var expected = (BigInteger.Pow(10, 20) * a.Get).CompareTo(BigInteger.Pow(10, 20) * b.Get + 7);
        return Math.Sign(x.CompareTo(y)) == expected && Math.Sign(y.CompareTo(x)) == -expected;
    }

    [Fact]
    public void Sentinels_sort_around_real_positions()
    {
        var real = new ExtendedSequenceNumber("1", 0);
        Assert.True(ExtendedSequenceNumber.TrimHorizon < real);
        Assert.True(ExtendedSequenceNumber.Latest < real);
        Assert.True(ExtendedSequenceNumber.ShardEnd > new ExtendedSequenceNumber("99999999999999999999999999999999999999999999999999", 9));
        Assert.True(new ExtendedSequenceNumber("10", 0) > new ExtendedSequenceNumber("9", 5));
        Assert.True(new ExtendedSequenceNumber("10", 2) > new ExtendedSequenceNumber("10", 1));
    }
}
