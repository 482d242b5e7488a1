using System.Globalization;

namespace Millrace.CloudWatch;

/// <summary>A time series: period start (epoch ms) to value, in time order.</summary>
internal sealed record Series(string Label, SortedDictionary<long, double> Points, int PeriodSeconds);

/// <summary>What a metric-math expression evaluates to: a number, a time series, or an array of series.</summary>
internal abstract record MathValue
{
    public sealed record Number(double Value) : MathValue;

    public sealed record One(Series Series) : MathValue;

    public sealed record Many(IReadOnlyList<Series> Series) : MathValue;

    public sealed record Text(string Value) : MathValue;
}

/// <summary>Raised for an expression CloudWatch would refuse; the message says where.</summary>
internal sealed class MetricMathException(string message) : Exception(message);

/// <summary>
/// CloudWatch metric math: arithmetic (+ - * / ^, unary minus, parentheses) over numbers, series and arrays of series
/// (aligned by timestamp), array literals <c>[a, b]</c>, query ids, and the functions METRICS(), SUM, AVG, MIN, MAX,
/// SAMPLE_COUNT, RATE, DIFF, ABS and PERIOD. A recursive-descent evaluator: expressions are short and run once per call.
/// </summary>
internal sealed class MetricMath
{
    private readonly string _text;
    private readonly Func<string, MathValue> _resolve;
    private readonly Func<string?, IReadOnlyList<Series>> _metrics;
    private int _at;

    private MetricMath(string text, Func<string, MathValue> resolve, Func<string?, IReadOnlyList<Series>> metrics)
    {
        _text = text;
        _resolve = resolve;
        _metrics = metrics;
    }

    /// <param name="text">The expression.</param>
    /// <param name="resolve">The value of another query by id (throws for an unknown id).</param>
    /// <param name="metrics">The metric queries' series, those whose id contains the filter when one is given.</param>
    public static MathValue Evaluate(string text, Func<string, MathValue> resolve, Func<string?, IReadOnlyList<Series>> metrics)
    {
        var math = new MetricMath(text, resolve, metrics);
        var value = math.Additive();
        math.Skip();
        if (math._at < text.Length)
        {
            throw math.Error($"Unexpected '{text[math._at]}'");
        }

        return value;
    }

    private MathValue Additive()
    {
        var left = Multiplicative();
        while (true)
        {
            if (Accept('+'))
            {
                left = Combine(left, Multiplicative(), (a, b) => a + b);
            }
            else if (Accept('-'))
            {
                left = Combine(left, Multiplicative(), (a, b) => a - b);
            }
            else
            {
                return left;
            }
        }
    }

    private MathValue Multiplicative()
    {
        var left = Unary();
        while (true)
        {
            if (Accept('*'))
            {
                left = Combine(left, Unary(), (a, b) => a * b);
            }
            else if (Accept('/'))
            {
                left = Combine(left, Unary(), (a, b) => a / b);
            }
            else
            {
                return left;
            }
        }
    }

    private MathValue Unary() => Accept('-') ? Combine(new MathValue.Number(0), Unary(), (a, b) => a - b) : Power();

    private MathValue Power()
    {
        var b = Primary();
        return Accept('^') ? Combine(b, Unary(), Math.Pow) : b;
    }

    private MathValue Primary()
    {
        Skip();
        if (_at >= _text.Length)
        {
            throw Error("Unexpected end of expression");
        }

        char c = _text[_at];
        if (Accept('('))
        {
            var inner = Additive();
            Expect(')');
            return inner;
        }

        if (Accept('['))
        {
            var items = new List<Series>();
            do
            {
                switch (Additive())
                {
                    case MathValue.One one:
                        items.Add(one.Series);
                        break;
                    case MathValue.Many many:
                        items.AddRange(many.Series);
                        break;
                    default:
                        throw Error("An array may only hold time series");
                }
            }
            while (Accept(','));
            Expect(']');
            return new MathValue.Many(items);
        }

        if (c == '"')
        {
            int end = _text.IndexOf('"', _at + 1);
            if (end < 0)
            {
                throw Error("Unterminated string");
            }

            var s = _text[(_at + 1)..end];
            _at = end + 1;
            return new MathValue.Text(s);
        }

        if (char.IsDigit(c) || c == '.')
        {
            int start = _at;
            while (_at < _text.Length && (char.IsDigit(_text[_at]) || _text[_at] is '.' or 'e' or 'E'))
            {
                _at++;
            }

            return double.TryParse(_text.AsSpan(start, _at - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                ? new MathValue.Number(n)
                : throw Error($"Invalid number '{_text[start.._at]}'");
        }

        if (char.IsLetter(c) || c == '_')
        {
            int start = _at;
            while (_at < _text.Length && (char.IsLetterOrDigit(_text[_at]) || _text[_at] == '_'))
            {
                _at++;
            }

            var name = _text[start.._at];
            if (Accept('('))
            {
                var args = new List<MathValue>();
                if (!Accept(')'))
                {
                    do
                    {
                        args.Add(Additive());
                    }
                    while (Accept(','));
                    Expect(')');
                }

                return Call(name, args);
            }

            return _resolve(name);
        }

        throw Error($"Unexpected '{c}'");
    }

    private MathValue Call(string name, List<MathValue> args)
    {
        switch (name.ToUpperInvariant())
        {
            case "METRICS":
                return new MathValue.Many(_metrics(args.Count > 0 && args[0] is MathValue.Text t ? t.Value : null));
            case "SUM":
                return Reduce(name, args, values => values.Sum());
            case "AVG":
                return Reduce(name, args, values => values.Average());
            case "MIN":
                return Reduce(name, args, values => values.Min());
            case "MAX":
                return Reduce(name, args, values => values.Max());
            case "SAMPLE_COUNT":
                return Reduce(name, args, values => values.Count());
            case "ABS":
                return Map(name, args, s => Transform(s, points => points.ToDictionary(p => p.Key, p => Math.Abs(p.Value))));
            case "DIFF":
                return Map(name, args, s => Transform(s, points => Consecutive(points, (prev, cur) => cur.Value - prev.Value)));
            case "RATE":
                return Map(name, args, s => Transform(s, points => Consecutive(points, (prev, cur) => (cur.Value - prev.Value) / ((cur.Key - prev.Key) / 1000.0))));
            case "PERIOD":
                if (args.Count != 1)
                {
                    throw Error("PERIOD takes one time series");
                }

                return args[0] is MathValue.One one ? new MathValue.Number(one.Series.PeriodSeconds) : throw Error("PERIOD takes one time series");
            default:
                throw Error($"Unknown function {name}");
        }
    }

    private static Dictionary<long, double> Consecutive(SortedDictionary<long, double> points, Func<KeyValuePair<long, double>, KeyValuePair<long, double>, double> f)
    {
        var result = new Dictionary<long, double>();
        KeyValuePair<long, double>? previous = null;
        foreach (var p in points)
        {
            if (previous is { } prev)
            {
                result[p.Key] = f(prev, p);
            }

            previous = p;
        }

        return result;
    }

    private static Series Transform(Series s, Func<SortedDictionary<long, double>, Dictionary<long, double>> f) =>
        new(s.Label, new SortedDictionary<long, double>(f(s.Points)), s.PeriodSeconds);

    private MathValue Map(string name, List<MathValue> args, Func<Series, Series> f) => args.Count == 1
        ? args[0] switch
        {
            MathValue.One one => new MathValue.One(f(one.Series)),
            MathValue.Many many => new MathValue.Many([.. many.Series.Select(f)]),
            _ => throw Error($"{name} takes a time series or an array of time series"),
        }
        : throw Error($"{name} takes one argument");

    /// <summary>Over one series: a number (its values reduced). Over an array: a series (the values at each timestamp reduced).</summary>
    private MathValue Reduce(string name, List<MathValue> args, Func<IEnumerable<double>, double> f)
    {
        if (args.Count != 1)
        {
            throw Error($"{name} takes one argument");
        }

        switch (args[0])
        {
            case MathValue.One one:
                return new MathValue.Number(one.Series.Points.Count == 0 ? double.NaN : f(one.Series.Points.Values));
            case MathValue.Many many:
                var points = new SortedDictionary<long, double>();
                foreach (var ts in many.Series.SelectMany(s => s.Points.Keys).Distinct())
                {
                    points[ts] = f(many.Series.Where(s => s.Points.ContainsKey(ts)).Select(s => s.Points[ts]));
                }

                return new MathValue.One(new Series(name, points, many.Series.Count > 0 ? many.Series.Min(x => x.PeriodSeconds) : 60));
            default:
                throw Error($"{name} takes a time series or an array of time series");
        }
    }

    private MathValue Combine(MathValue left, MathValue right, Func<double, double, double> op) => (left, right) switch
    {
        (MathValue.Number a, MathValue.Number b) => new MathValue.Number(op(a.Value, b.Value)),
        (MathValue.One a, MathValue.Number b) => new MathValue.One(Transform(a.Series, p => p.ToDictionary(x => x.Key, x => op(x.Value, b.Value)))),
        (MathValue.Number a, MathValue.One b) => new MathValue.One(Transform(b.Series, p => p.ToDictionary(x => x.Key, x => op(a.Value, x.Value)))),
        (MathValue.One a, MathValue.One b) => new MathValue.One(Pairwise(a.Series, b.Series, op)),
        (MathValue.Many a, _) when right is not MathValue.Many and not MathValue.Text =>
            new MathValue.Many([.. a.Series.Select(s => ((MathValue.One)Combine(new MathValue.One(s), right, op)).Series)]),
        (_, MathValue.Many b) when left is not MathValue.Many and not MathValue.Text =>
            new MathValue.Many([.. b.Series.Select(s => ((MathValue.One)Combine(left, new MathValue.One(s), op)).Series)]),
        _ => throw Error("These operands cannot be combined"),
    };

    /// <summary>Two series combine at the timestamps both have.</summary>
    private static Series Pairwise(Series a, Series b, Func<double, double, double> op)
    {
        var points = new SortedDictionary<long, double>();
        foreach (var (ts, value) in a.Points)
        {
            if (b.Points.TryGetValue(ts, out var other))
            {
                points[ts] = op(value, other);
            }
        }

        return new Series(a.Label, points, Math.Min(a.PeriodSeconds, b.PeriodSeconds));
    }

    private void Skip()
    {
        while (_at < _text.Length && char.IsWhiteSpace(_text[_at]))
        {
            _at++;
        }
    }

    private bool Peek(char c)
    {
        Skip();
        return _at < _text.Length && _text[_at] == c;
    }

    private bool Accept(char c)
    {
        if (!Peek(c))
        {
            return false;
        }

        _at++;
        return true;
    }

    private void Expect(char c)
    {
        if (!Accept(c))
        {
            throw Error($"Expected '{c}'");
        }
    }

    private MetricMathException Error(string what) => new($"{what} at position {_at + 1} of the expression \"{_text}\"");
}
