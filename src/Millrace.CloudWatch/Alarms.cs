using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;
using Millrace.Storage.Metrics;

namespace Millrace.CloudWatch;

/// <summary>Metric alarms: their definitions, their states and their evaluation over the stored data.</summary>
public sealed partial class CloudWatchService
{
    private const string Ok = "OK";
    private const string Alarm = "ALARM";
    private const string InsufficientData = "INSUFFICIENT_DATA";
    private const long MaxEvaluationRangeSeconds = 7 * 86_400;

    private static readonly string[] DefinitionMembers =
    [
        "AlarmDescription", "OKActions", "AlarmActions", "InsufficientDataActions", "MetricName", "Namespace", "Statistic",
        "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
        "TreatMissingData", "EvaluateLowSampleCountPercentile", "Metrics", "ThresholdMetricId",
    ];

    /// <summary>How many alarm evaluation rounds failed (each is retried at the next tick).</summary>
    public int EvaluationFailures { get; private set; }

    private string AlarmArn(string name) => $"arn:aws:cloudwatch:{_options.Region}:{_options.AccountId}:alarm:{name}";

    private async Task<JsonObject?> PutMetricAlarmAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "AlarmName")!;
        if (Text(input, "ComparisonOperator") is null)
        {
            throw new ServiceException("ValidationError", "ComparisonOperator is a required parameter.");
        }

        long evaluationPeriods = ModelDocument.GetInt64(input["EvaluationPeriods"]) ?? throw new ServiceException("ValidationError", "EvaluationPeriods is a required parameter.");
        if (ModelDocument.GetInt64(input["DatapointsToAlarm"]) is { } m && m > evaluationPeriods)
        {
            throw new ServiceException("ValidationError", "DatapointsToAlarm must be less than or equal to EvaluationPeriods.");
        }

        if (input["Threshold"] is null && Text(input, "ThresholdMetricId") is null)
        {
            throw new ServiceException("ValidationError", "Threshold or ThresholdMetricId must be specified.");
        }

        long period;
        if (input["Metrics"] is JsonArray metrics)
        {
            foreach (var single in new[] { "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit" })
            {
                if (input[single] is not null)
                {
                    throw Combination($"The parameters {single} and Metrics are mutually exclusive and you have specified both.");
                }
            }

            var returning = metrics.OfType<JsonObject>().Where(q => ModelDocument.GetBoolean(q["ReturnData"]) != false).ToList();
            if (returning.Count != 1)
            {
                throw new ServiceException("ValidationError", "Exactly one element of the metrics list should return data.");
            }

            period = PeriodOfQuery(returning[0]);
        }
        else
        {
            if (Text(input, "MetricName") is null || Text(input, "Namespace") is null)
            {
                throw new ServiceException("ValidationError", "MetricName and Namespace must be specified, or Metrics.");
            }

            if ((Text(input, "Statistic") is null) == (Text(input, "ExtendedStatistic") is null))
            {
                throw Combination("Exactly one of Statistic and ExtendedStatistic must be specified.");
            }

            period = ModelDocument.GetInt64(input["Period"]) ?? throw new ServiceException("ValidationError", "Period must be specified.");
            CheckPeriod((int)period, "Period");
        }

        if (period * evaluationPeriods > MaxEvaluationRangeSeconds)
        {
            throw new ServiceException("ValidationError", $"The product of EvaluationPeriods and Period must not exceed {MaxEvaluationRangeSeconds}.");
        }

        var definition = new JsonObject();
        foreach (var member in DefinitionMembers)
        {
            if (input[member] is { } value)
            {
                definition[member] = value.DeepClone();
            }
        }

        long now = Now;
        await Store.PutAlarmAsync(
            new StoredAlarm(name, definition.ToJsonString(), InsufficientData, "Unchecked: Initial alarm creation", null, now, now,
                ModelDocument.GetBoolean(input["ActionsEnabled"]) ?? true),
            ctx.Cancellation);
        return null;
    }

    private static long PeriodOfQuery(JsonObject query) =>
        ModelDocument.GetInt64((query["MetricStat"] as JsonObject)?["Period"]) ?? ModelDocument.GetInt64(query["Period"]) ?? 60;

    private async Task<JsonObject?> DescribeAlarmsAsync(JsonObject input, OperationContext ctx)
    {
        var names = (input["AlarmNames"] as JsonArray)?.Select(n => ModelDocument.GetString(n)!).ToHashSet(StringComparer.Ordinal);
        var prefix = Text(input, "AlarmNamePrefix");
        if (names is not null && prefix is not null)
        {
            throw Combination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have specified both.");
        }

        var state = Text(input, "StateValue");
        var actionPrefix = Text(input, "ActionPrefix");
        var types = (input["AlarmTypes"] as JsonArray)?.Select(n => ModelDocument.GetString(n)).ToList();
        int max = (int)(ModelDocument.GetInt64(input["MaxRecords"]) ?? 50);
        var after = Text(input, "NextToken");
        var selected = new List<StoredAlarm>();
        if (types is null || types.Contains("MetricAlarm"))
        {
            foreach (var alarm in await Store.ListAlarmsAsync(ctx.Cancellation))
            {
                if ((names is null || names.Contains(alarm.Name)) && (prefix is null || alarm.Name.StartsWith(prefix, StringComparison.Ordinal))
                    && (state is null || alarm.State == state) && (after is null || string.CompareOrdinal(alarm.Name, after) > 0)
                    && (actionPrefix is null || Actions(alarm).Any(a => a.StartsWith(actionPrefix, StringComparison.Ordinal))))
                {
                    selected.Add(alarm);
                }
            }
        }

        var output = new JsonObject
        {
            ["MetricAlarms"] = new JsonArray([.. selected.Take(max).Select(a => (JsonNode)AlarmNode(a))]),
            ["CompositeAlarms"] = new JsonArray(),
        };
        if (selected.Count > max)
        {
            output["NextToken"] = selected[max - 1].Name;
        }

        return output;
    }

    private async Task<JsonObject?> DescribeAlarmsForMetricAsync(JsonObject input, OperationContext ctx)
    {
        var metric = MetricOf(input);
        var alarms = new JsonArray();
        foreach (var alarm in await Store.ListAlarmsAsync(ctx.Cancellation))
        {
            var d = (JsonObject)JsonNode.Parse(alarm.Definition)!;
            if (d["Metrics"] is null && MetricOf(d).Equals(metric)
                && (Text(input, "Statistic") is not { } s || Text(d, "Statistic") == s)
                && (ModelDocument.GetInt64(input["Period"]) is not { } p || ModelDocument.GetInt64(d["Period"]) == p))
            {
                alarms.Add(AlarmNode(alarm));
            }
        }

        return new JsonObject { ["MetricAlarms"] = alarms };
    }

    private static IEnumerable<string> Actions(StoredAlarm alarm)
    {
        var d = (JsonObject)JsonNode.Parse(alarm.Definition)!;
        return new[] { "OKActions", "AlarmActions", "InsufficientDataActions" }
            .SelectMany(k => d[k] as JsonArray ?? []).Select(n => ModelDocument.GetString(n) ?? "");
    }

    private JsonObject AlarmNode(StoredAlarm alarm)
    {
        var node = (JsonObject)JsonNode.Parse(alarm.Definition)!;
        node["AlarmName"] = alarm.Name;
        node["AlarmArn"] = AlarmArn(alarm.Name);
        node["ActionsEnabled"] = alarm.ActionsEnabled;
        foreach (var list in new[] { "OKActions", "AlarmActions", "InsufficientDataActions" })
        {
            node[list] ??= new JsonArray();
        }

        if (node["Metrics"] is null)
        {
            node["Dimensions"] ??= new JsonArray();
        }

        node["AlarmConfigurationUpdatedTimestamp"] = ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(alarm.ConfigurationUpdatedMs));
        node["StateValue"] = alarm.State;
        node["StateReason"] = alarm.StateReason;
        if (alarm.StateReasonData is not null)
        {
            node["StateReasonData"] = alarm.StateReasonData;
        }

        node["StateUpdatedTimestamp"] = ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(alarm.StateUpdatedMs));
        node["StateTransitionedTimestamp"] = ModelDocument.Timestamp(DateTimeOffset.FromUnixTimeMilliseconds(alarm.StateUpdatedMs));
        return node;
    }

    private async Task<JsonObject?> DeleteAlarmsAsync(JsonObject input, OperationContext ctx)
    {
        var names = (input["AlarmNames"] as JsonArray ?? []).Select(n => ModelDocument.GetString(n)!).ToList();
        var missing = await Store.DeleteAlarmsAsync(names, ctx.Cancellation);
        if (missing.Count > 0)
        {
            throw new ServiceException("ResourceNotFound", $"The following alarms could not be found: [{string.Join(", ", missing)}]");
        }

        return null;
    }

    private async Task<JsonObject?> SetAlarmStateAsync(JsonObject input, OperationContext ctx)
    {
        var name = Text(input, "AlarmName")!;
        var data = Text(input, "StateReasonData");
        if (data is not null)
        {
            try
            {
                using var _ = JsonDocument.Parse(data);
            }
            catch (JsonException)
            {
                throw new ServiceException("InvalidFormatFault", "The StateReasonData is not valid JSON.");
            }
        }

        if (!await Store.SetAlarmStateAsync(name, Text(input, "StateValue")!, Text(input, "StateReason")!, data, Now, ctx.Cancellation))
        {
            throw new ServiceException("ResourceNotFound", $"Alarm {name} not found");
        }

        return null;
    }

    private async Task<JsonObject?> SetActionsAsync(JsonObject input, bool enabled, OperationContext ctx)
    {
        foreach (var n in input["AlarmNames"] as JsonArray ?? [])
        {
            await Store.SetAlarmActionsAsync(ModelDocument.GetString(n)!, enabled, ctx.Cancellation);
        }

        return null;
    }

    // ---- evaluation ----

    /// <summary>Evaluates every alarm now and then every <see cref="CloudWatchOptions.AlarmEvaluationInterval"/> until cancelled.</summary>
    public async Task RunAlarmEvaluationAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.AlarmEvaluationInterval, _options.Clock);
        do
        {
            try
            {
                await EvaluateAlarmsAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                EvaluationFailures++;
            }
        }
        while (await timer.WaitForNextTickAsync(cancellationToken));
    }

    /// <summary>Evaluates every alarm once and stores each one whose state changed.</summary>
    public async Task EvaluateAlarmsAsync(CancellationToken cancellationToken = default)
    {
        await _recorder.FlushAsync(cancellationToken);
        foreach (var alarm in await Store.ListAlarmsAsync(cancellationToken))
        {
            var (state, reason, data) = await EvaluateAsync(alarm, cancellationToken);
            if (state is not null && state != alarm.State)
            {
                await Store.SetAlarmStateAsync(alarm.Name, state, reason, data, Now, cancellationToken);
            }
        }
    }

    private async Task<(string? State, string Reason, string? Data)> EvaluateAsync(StoredAlarm alarm, CancellationToken ct)
    {
        var d = (JsonObject)JsonNode.Parse(alarm.Definition)!;
        int n = (int)(ModelDocument.GetInt64(d["EvaluationPeriods"]) ?? 1);
        int m = (int)(ModelDocument.GetInt64(d["DatapointsToAlarm"]) ?? n);
        var comparison = Text(d, "ComparisonOperator")!;
        var treat = Text(d, "TreatMissingData") ?? "missing";
        if (ModelDocument.GetDouble(d["Threshold"]) is not { } threshold)
        {
            return (InsufficientData, "Millrace does not evaluate anomaly detection bands.", null);
        }

        long now = Now;
        int period;
        Series series;
        string statistic;
        if (d["Metrics"] is JsonArray metrics)
        {
            period = (int)PeriodOfQuery(metrics.OfType<JsonObject>().First(q => ModelDocument.GetBoolean(q["ReturnData"]) != false));
            long last = Statistics.AlignDown(now, period);
            var results = await EvaluateAsync((JsonArray)metrics.DeepClone(), last - (n - 1) * period * 1000L, last + period * 1000L, ct);
            series = results.Count > 0 ? results[0].Series : new Series("", [], period);
            statistic = "Expression";
        }
        else
        {
            period = (int)ModelDocument.GetInt64(d["Period"])!.Value;
            statistic = Text(d, "Statistic") ?? Text(d, "ExtendedStatistic")!;
            var stat = new JsonObject { ["Metric"] = MetricNode(MetricOf(d)), ["Period"] = period, ["Stat"] = statistic };
            if (Text(d, "Unit") is { } unit)
            {
                stat["Unit"] = unit;
            }

            long last = Statistics.AlignDown(now, period);
            series = await MetricStatAsync(stat, null, last - (n - 1) * period * 1000L, last + period * 1000L, ct);
        }

        // The N most recent periods, the current (still filling) one included, newest first.
        long newest = Statistics.AlignDown(now, period);
        var evaluated = new List<(long Ts, double? Value)>();
        for (int i = 0; i < n; i++)
        {
            long ts = newest - i * period * 1000L;
            evaluated.Add((ts, series.Points.TryGetValue(ts, out var v) ? v : null));
        }

        var present = evaluated.Where(e => e.Value is not null).ToList();
        if (present.Count == 0 && treat is "missing" or "ignore")
        {
            return treat == "ignore" ? (null, "", null) : (InsufficientData,
                $"Insufficient Data: {n} datapoint{(n == 1 ? " was" : "s were")} unknown.", ReasonData(statistic, period, threshold, evaluated, now));
        }

        int breaching = evaluated.Count(e => e.Value is { } v ? Breaches(v, comparison, threshold) : treat == "breaching");
        var shown = string.Join(", ", present.Select(e => $"{FormatNumber(e.Value!.Value)} ({Utc(e.Ts)})"));
        var words = Words(comparison);
        string reason = breaching >= m
            ? $"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown}] {(breaching == 1 ? "was" : "were")} {words} the threshold ({FormatNumber(threshold)}) (minimum {m} datapoint{(m == 1 ? "" : "s")} for OK -> ALARM transition)."
            : $"Threshold Crossed: {n - breaching} out of the last {n} datapoints [{shown}] {(n - breaching == 1 ? "was" : "were")} not {words} the threshold ({FormatNumber(threshold)}) (minimum {n - m + 1} datapoint{(n - m + 1 == 1 ? "" : "s")} for ALARM -> OK transition).";
        return (breaching >= m ? Alarm : Ok, reason, ReasonData(statistic, period, threshold, evaluated, now));
    }

    private static bool Breaches(double value, string comparison, double threshold) => comparison switch
    {
        "GreaterThanOrEqualToThreshold" => value >= threshold,
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        "LessThanOrEqualToThreshold" => value <= threshold,
        _ => false,
    };

    private static string Words(string comparison) => comparison switch
    {
        "GreaterThanOrEqualToThreshold" => "greater than or equal to",
        "GreaterThanThreshold" => "greater than",
        "LessThanThreshold" => "less than",
        "LessThanOrEqualToThreshold" => "less than or equal to",
        _ => comparison,
    };

    private static string ReasonData(string statistic, int period, double threshold, List<(long Ts, double? Value)> evaluated, long now)
    {
        static string Iso(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'+0000'", CultureInfo.InvariantCulture);
        var data = new JsonObject
        {
            ["version"] = "1.0",
            ["queryDate"] = Iso(now),
            ["startDate"] = Iso(evaluated[^1].Ts),
            ["statistic"] = statistic,
            ["period"] = period,
            ["recentDatapoints"] = new JsonArray([.. evaluated.Where(e => e.Value is not null).Select(e => (JsonNode)e.Value!.Value)]),
            ["threshold"] = threshold,
            ["evaluatedDatapoints"] = new JsonArray([.. evaluated.Select(e =>
            {
                var point = new JsonObject { ["timestamp"] = Iso(e.Ts) };
                if (e.Value is { } v)
                {
                    point["value"] = v;
                }

                return (JsonNode)point;
            })]),
        };
        return data.ToJsonString();
    }
}
