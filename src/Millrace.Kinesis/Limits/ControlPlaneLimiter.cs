using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Text.Json;
using Millrace.Protocol;

namespace Millrace.Kinesis.Limits;

/// <summary>
/// Control-plane call rates for <c>--enforce-limits</c>, the TPS figures AWS documents per operation, each per
/// account or per stream. The endpoint calls <see cref="Admit"/> once per request; over the rate the call fails
/// with LimitExceededException before the operation runs. Data-plane operations are not listed here: their
/// budgets are per shard (<see cref="ShardThroughputLimiter"/>).
/// </summary>
public sealed class ControlPlaneLimiter(string accountId)
{
    private enum Scope
    {
        Account,
        Stream,
    }

    private readonly record struct Rate(int PerSecond, Scope Scope);

    // From the API reference's "Limits" paragraph of each operation (see docs/limits.md).
    private static readonly FrozenDictionary<string, Rate> Rates = new Dictionary<string, Rate>(StringComparer.Ordinal)
    {
        ["AddTagsToStream"] = new(5, Scope.Account),
        ["CreateStream"] = new(5, Scope.Account),
        ["DecreaseStreamRetentionPeriod"] = new(5, Scope.Account),
        ["DeleteStream"] = new(5, Scope.Account),
        ["DeregisterStreamConsumer"] = new(5, Scope.Stream),
        ["DescribeAccountSettings"] = new(5, Scope.Account),
        ["DescribeLimits"] = new(1, Scope.Account),
        ["DescribeStream"] = new(10, Scope.Account),
        ["DescribeStreamConsumer"] = new(20, Scope.Stream),
        ["DescribeStreamSummary"] = new(20, Scope.Account),
        ["IncreaseStreamRetentionPeriod"] = new(5, Scope.Account),
        ["ListShards"] = new(1000, Scope.Stream),
        ["ListStreamConsumers"] = new(5, Scope.Stream),
        ["ListStreams"] = new(5, Scope.Account),
        ["ListTagsForStream"] = new(5, Scope.Account),
        ["MergeShards"] = new(5, Scope.Account),
        ["RegisterStreamConsumer"] = new(5, Scope.Account),
        ["RemoveTagsFromStream"] = new(5, Scope.Account),
        ["SplitShard"] = new(5, Scope.Account),
        ["UpdateAccountSettings"] = new(5, Scope.Account),
        ["UpdateShardCount"] = new(10, Scope.Account),
        ["UpdateStreamWarmThroughput"] = new(5, Scope.Account),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private readonly ConcurrentDictionary<(string Operation, string Stream), Budget> _budgets = new();

    /// <summary>Takes one call of <paramref name="operation"/> from its budget, or throws LimitExceededException.</summary>
    public void Admit(string operation, JsonElement input, long nowMs)
    {
        if (!Rates.TryGetValue(operation, out var rate))
        {
            return;
        }

        var stream = StreamNameOf(input);
        var key = (operation, rate.Scope == Scope.Stream ? stream ?? "" : "");
        var budget = _budgets.GetOrAdd(key, static (_, a) => new Budget(a.PerSecond, a.NowMs), (rate.PerSecond, NowMs: nowMs));
        if (!budget.TryTake(nowMs))
        {
            throw KinesisException.LimitExceeded(stream is null
                ? $"Rate exceeded for account {accountId}."
                : $"Rate exceeded for stream {stream} under account {accountId}.");
        }
    }

    /// <summary>The stream a request names (StreamName, or the stream part of StreamARN, ConsumerARN or
    /// ResourceARN); null for account-wide calls.</summary>
    private static string? StreamNameOf(JsonElement input)
    {
        if (input.TryGetProperty("StreamName", out var n) && n.ValueKind == JsonValueKind.String)
        {
            return n.GetString();
        }

        foreach (var member in (ReadOnlySpan<string>)["StreamARN", "ConsumerARN", "ResourceARN"])
        {
            if (input.TryGetProperty(member, out var a) && a.ValueKind == JsonValueKind.String && a.GetString() is { } arn)
            {
                int at = arn.IndexOf(":stream/", StringComparison.Ordinal);
                if (at >= 0)
                {
                    var rest = arn.AsSpan(at + ":stream/".Length);
                    int slash = rest.IndexOf('/');
                    return (slash < 0 ? rest : rest[..slash]).ToString();
                }
            }
        }

        return null;
    }

    private sealed class Budget(int perSecond, long nowMs)
    {
        private readonly Lock _lock = new();
        private TokenBucket _calls = new(perSecond, nowMs);

        public bool TryTake(long nowMs)
        {
            lock (_lock)
            {
                _calls.Refill(nowMs);
                if (!_calls.CanTake(1))
                {
                    return false;
                }

                _calls.Take(1);
                return true;
            }
        }
    }
}
