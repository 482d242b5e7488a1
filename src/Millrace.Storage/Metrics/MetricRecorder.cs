using System.Collections.Concurrent;

namespace Millrace.Storage.Metrics;

/// <summary>
/// Where the services record their own metrics. Each metric is a <see cref="MetricCell"/> that the recording code
/// looks up once and keeps: recording a value is a lock and four additions, with no allocation. Cells aggregate per
/// period (a minute); <see cref="FlushAsync"/> writes the finished and current periods to the store, where repeated
/// writes of one period merge. A kill -9 loses at most the values recorded since the last flush.
/// </summary>
public sealed class MetricRecorder
{
    private readonly ConcurrentDictionary<(MetricIdentity Metric, string Unit), MetricCell> _cells = new();
    private readonly ConcurrentQueue<MetricDatapoint> _finished = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);

    public MetricRecorder(IMetricStore store, TimeProvider? clock = null)
    {
        Store = store;
        Clock = clock ?? TimeProvider.System;
    }

    public IMetricStore Store { get; }

    public TimeProvider Clock { get; }

    internal long NowMs => Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The cell of a metric and unit (created on first use). Keep it: looking it up allocates its key.</summary>
    public MetricCell Cell(string @namespace, string metricName, string unit, params ReadOnlySpan<(string Name, string Value)> dimensions)
    {
        var dims = new KeyValuePair<string, string>[dimensions.Length];
        for (int i = 0; i < dims.Length; i++)
        {
            dims[i] = KeyValuePair.Create(dimensions[i].Name, dimensions[i].Value);
        }

        return Cell(new MetricIdentity(@namespace, metricName, dims), unit);
    }

    public MetricCell Cell(MetricIdentity metric, string unit) => _cells.GetOrAdd((metric, unit), key => new MetricCell(this, key.Metric, key.Unit));

    /// <summary>Every cell recorded so far (for the Prometheus exposition).</summary>
    public IEnumerable<MetricCell> Cells => _cells.Values;

    internal void Finished(MetricDatapoint point) => _finished.Enqueue(point);

    /// <summary>Writes every period recorded so far to the store (the current one too: later writes of it merge).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            var points = new List<MetricDatapoint>();
            while (_finished.TryDequeue(out var point))
            {
                points.Add(point);
            }

            foreach (var cell in _cells.Values)
            {
                if (cell.TakeCurrent() is { } point)
                {
                    points.Add(point);
                }
            }

            if (points.Count > 0)
            {
                try
                {
                    await Store.MergeAsync(points, cancellationToken);
                }
                catch
                {
                    foreach (var point in points)
                    {
                        _finished.Enqueue(point); // written at the next flush
                    }

                    throw;
                }
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>Flushes every <paramref name="period"/> until cancelled, and once more at the end.</summary>
    public async Task RunFlushAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period, Clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await FlushAsync(cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Kept in memory and written at the next tick (e.g. after a full disk frees up).
                    FlushFailures++;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync(CancellationToken.None);
    }

    /// <summary>How many periodic flushes failed.</summary>
    public int FlushFailures { get; private set; }
}

/// <summary>
/// One metric's values being aggregated: the current period's sum, count, minimum and maximum, and since start the
/// total sum and count and the last value (which Prometheus reads).
/// </summary>
public sealed class MetricCell
{
    private readonly Lock _gate = new();
    private readonly MetricRecorder _owner;
    private readonly long _periodMs;
    private long _period = long.MinValue;
    private double _sum;
    private double _count;
    private double _min;
    private double _max;
    private double _totalSum;
    private double _totalCount;
    private double _last;

    internal MetricCell(MetricRecorder owner, MetricIdentity metric, string unit, int resolutionSeconds = 60)
    {
        _owner = owner;
        Metric = metric;
        Unit = unit;
        ResolutionSeconds = resolutionSeconds;
        _periodMs = resolutionSeconds * 1000L;
    }

    public MetricIdentity Metric { get; }

    public string Unit { get; }

    public int ResolutionSeconds { get; }

    /// <summary>Adds one sample.</summary>
    public void Record(double value)
    {
        long period = _owner.NowMs / _periodMs;
        lock (_gate)
        {
            if (period != _period)
            {
                if (_count > 0)
                {
                    _owner.Finished(Take());
                }

                _period = period;
            }

            if (_count == 0)
            {
                _min = value;
                _max = value;
            }
            else
            {
                _min = Math.Min(_min, value);
                _max = Math.Max(_max, value);
            }

            _sum += value;
            _count++;
            _totalSum += value;
            _totalCount++;
            _last = value;
        }
    }

    /// <summary>The sum, sample count and last value of every sample since the server started.</summary>
    public (double Sum, double Count, double Last) Totals
    {
        get
        {
            lock (_gate)
            {
                return (_totalSum, _totalCount, _last);
            }
        }
    }

    internal MetricDatapoint? TakeCurrent()
    {
        lock (_gate)
        {
            return _count > 0 ? Take() : null;
        }
    }

    private MetricDatapoint Take()
    {
        var point = new MetricDatapoint(Metric, _period * _periodMs, ResolutionSeconds, Unit, _sum, _count, _min, _max);
        _sum = 0;
        _count = 0;
        return point;
    }
}
