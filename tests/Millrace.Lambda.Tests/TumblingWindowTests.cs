using System.Text;
using Millrace.Lambda.Mappings;

namespace Millrace.Lambda.Tests;

/// <summary>Tumbling windows: bounds from arrival times aligned to the window length, and the state a response must carry.</summary>
public sealed class TumblingWindowTests
{
    private static StreamRecord Arriving(double seconds) =>
        new("\"1\""u8.ToArray(), "\"k\""u8.ToArray(), "\"\""u8.ToArray(), seconds, Encoding.UTF8.GetBytes(seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    [Theory]
    [InlineData(1607497475.000, 120, 1607497440)]
    [InlineData(1607497440.000, 120, 1607497440)]
    [InlineData(1607497559.999, 120, 1607497440)]
    [InlineData(1607497560.000, 120, 1607497560)]
    [InlineData(17.5, 2, 16)]
    public void WindowStartsAtAMultipleOfItsLength(double arrival, long length, long start) =>
        Assert.Equal(start, TumblingWindow.StartOf(Arriving(arrival), length));

    [Fact]
    public void BoundsAreWrittenAsAwsWritesThem()
    {
        var window = new TumblingWindow(1607497440, 120);
        Assert.Equal("2020-12-09T07:04:00Z", TumblingWindow.Iso(window.Start));
        Assert.Equal("2020-12-09T07:06:00Z", TumblingWindow.Iso(window.End));
        Assert.Equal("{}", window.State);
    }

    [Theory]
    [InlineData("""{"state":{"1":282,"2":715},"batchItemFailures":[]}""", true, """{"1":282,"2":715}""")]
    [InlineData("""{"state":null}""", true, "{}")]
    [InlineData("""{"batchItemFailures":[]}""", false, "{}")]
    [InlineData("null", false, "{}")]
    [InlineData("not json", false, "{}")]
    [InlineData("", false, "{}")]
    public void TheResponseMustCarryTheState(string response, bool taken, string state)
    {
        var window = new TumblingWindow(0, 60);
        Assert.Equal(taken, window.TakeState(Encoding.UTF8.GetBytes(response)));
        Assert.Equal(state, window.State);
    }

    [Fact]
    public void StateBeyondOneMegabyteEndsTheWindowEarly()
    {
        var window = new TumblingWindow(0, 60);
        Assert.True(window.TakeState(Encoding.UTF8.GetBytes("{\"state\":{\"k\":\"" + new string('x', TumblingWindow.MaxStateBytes) + "\"}}")));
        Assert.True(window.StateTooLarge);
    }
}
