namespace Millrace.CloudWatch.Tests;

/// <summary>The metric-math evaluator over small hand-made series, and the Prometheus name mapping.</summary>
public sealed class MetricMathTests
{
    private static Series S(string label, params (long Ts, double Value)[] points) =>
        new(label, new SortedDictionary<long, double>(points.ToDictionary(p => p.Ts, p => p.Value)), 60);

    private static readonly Dictionary<string, MathValue> Queries = new()
    {
        ["a"] = new MathValue.One(S("A", (0, 1), (60_000, 3), (120_000, 6))),
        ["b"] = new MathValue.One(S("B", (0, 10), (60_000, 20))),
    };

    private static MathValue Eval(string expression) => MetricMath.Evaluate(expression,
        id => Queries.TryGetValue(id, out var v) ? v : throw new KeyNotFoundException(id),
        filter => [.. Queries.Where(q => filter is null || q.Key.Contains(filter, StringComparison.Ordinal)).Select(q => ((MathValue.One)q.Value).Series)]);

    private static Dictionary<long, double> Points(MathValue value) => ((MathValue.One)value).Series.Points.ToDictionary();

    [Fact]
    public void Arithmetic_aligns_series_by_timestamp_and_keeps_precedence()
    {
        Assert.Equal(new Dictionary<long, double> { [0] = 21, [60_000] = 43 }, Points(Eval("a + b * 2")));
        Assert.Equal(new Dictionary<long, double> { [0] = -2, [60_000] = -6, [120_000] = -12 }, Points(Eval("-(a * 2)")));
        Assert.Equal(8.0, ((MathValue.Number)Eval("2 ^ 3")).Value);
        Assert.Equal(1.0, ((MathValue.Number)Eval("10 - 4 - 5")).Value);
    }

    [Fact]
    public void Sum_of_an_array_is_a_series_and_of_a_series_a_number()
    {
        Assert.Equal(new Dictionary<long, double> { [0] = 11, [60_000] = 23, [120_000] = 6 }, Points(Eval("SUM(METRICS())")));
        Assert.Equal(10.0, ((MathValue.Number)Eval("SUM(a)")).Value);
        Assert.Equal(2, ((MathValue.Many)Eval("[a, b] * 2")).Series.Count);
        Assert.Single(((MathValue.Many)Eval("METRICS(\"b\")")).Series);
    }

    [Fact]
    public void Rate_is_change_per_second_and_diff_the_change()
    {
        Assert.Equal(new Dictionary<long, double> { [60_000] = 2.0 / 60, [120_000] = 3.0 / 60 }, Points(Eval("RATE(a)")));
        Assert.Equal(new Dictionary<long, double> { [60_000] = 2, [120_000] = 3 }, Points(Eval("DIFF(a)")));
        Assert.Equal(60.0, ((MathValue.Number)Eval("PERIOD(a)")).Value);
    }

    [Theory]
    [InlineData("a +")]
    [InlineData("NOPE(a)")]
    [InlineData("(a")]
    [InlineData("a b")]
    public void Malformed_expressions_say_where(string expression) =>
        Assert.Contains("position", Assert.Throws<MetricMathException>(() => Eval(expression)).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("AWS/Kinesis", "aws_kinesis")]
    [InlineData("AWSKinesisAgent", "aws_kinesis_agent")]
    [InlineData("PutRecords.SuccessfulRecords", "put_records_successful_records")]
    [InlineData("GetRecords.IteratorAgeMilliseconds", "get_records_iterator_age_milliseconds")]
    [InlineData("StreamName", "stream_name")]
    public void Prometheus_names_are_snake_case(string cloudWatch, string prometheus) =>
        Assert.Equal(prometheus, PrometheusExposition.Snake(cloudWatch));
}
