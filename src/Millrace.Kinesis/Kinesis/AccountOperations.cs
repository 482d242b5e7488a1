using System.Text.Json;
using Millrace.Protocol;

namespace Millrace.Kinesis;

/// <summary>DescribeLimits, DescribeAccountSettings and UpdateAccountSettings.</summary>
public sealed class AccountOperations(StreamService streams)
{
    private const string CommitmentKey = "MinimumThroughputBillingCommitment";

    /// <summary>A commitment must run this long before it can end.</summary>
    private const long MinimumCommitmentMs = 24 * 3_600_000L;

    /// <summary>What DescribeLimits reports for a quota that is switched off (the model's maximum).</summary>
    private const int UnlimitedReported = 1_000_000;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["DescribeLimits"] = DescribeLimitsAsync;
        operations["DescribeAccountSettings"] = DescribeAccountSettingsAsync;
        operations["UpdateAccountSettings"] = UpdateAccountSettingsAsync;
    }

    /// <summary>The account's MinimumThroughputBillingCommitment as stored (times in epoch ms).</summary>
    internal sealed record Commitment(string Status, long? StartedAtMs, long? EndedAtMs, long? EarliestAllowedEndAtMs)
    {
        public static readonly Commitment Disabled = new("DISABLED", null, null, null);

        /// <summary>A scheduled end takes effect by itself once its time has come.</summary>
        public Commitment At(long nowMs) =>
            Status == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" && EndedAtMs <= nowMs ? this with { Status = "DISABLED" } : this;

        public bool IsEnabled => Status != "DISABLED";
    }

    /// <summary>True when warm throughput may be used: the account's commitment is in force.</summary>
    internal static async ValueTask<bool> IsCommitmentEnabledAsync(StreamService streams, long nowMs, CancellationToken ct) =>
        (await LoadAsync(streams, ct)).At(nowMs).IsEnabled;

    private async ValueTask DescribeLimitsAsync(OperationContext ctx)
    {
        var options = streams.Options;
        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteNumber("ShardLimit", options.ShardLimit > 0 ? options.ShardLimit : UnlimitedReported);
        w.WriteNumber("OpenShardCount", await ControlPlane.CountOpenShardsAsync(streams, ctx.CancellationToken));
        w.WriteNumber("OnDemandStreamCount", await ControlPlane.CountOnDemandStreamsAsync(streams, ctx.CancellationToken));
        w.WriteNumber("OnDemandStreamCountLimit", options.OnDemandStreamCountLimit > 0 ? options.OnDemandStreamCountLimit : UnlimitedReported);
        w.WriteEndObject();
    }

    private async ValueTask DescribeAccountSettingsAsync(OperationContext ctx)
    {
        var commitment = (await LoadAsync(streams, ctx.CancellationToken)).At(ctx.NowMs);
        WriteOutput(ctx.Output, commitment);
    }

    private async ValueTask UpdateAccountSettingsAsync(OperationContext ctx)
    {
        var wanted = ctx.GetObject(CommitmentKey)!.Value.GetProperty("Status").GetString();
        var now = ctx.NowMs;
        var current = (await LoadAsync(streams, ctx.CancellationToken)).At(now);
        Commitment next;
        if (wanted == "ENABLED")
        {
            next = current.Status switch
            {
                "ENABLED" => current,
                // Enabling again before the scheduled end cancels the pending disable.
                "ENABLED_UNTIL_EARLIEST_ALLOWED_END" => current with { Status = "ENABLED", EndedAtMs = null },
                _ => new Commitment("ENABLED", now, null, now + MinimumCommitmentMs),
            };
        }
        else
        {
            next = current.Status switch
            {
                "DISABLED" => current,
                "ENABLED_UNTIL_EARLIEST_ALLOWED_END" => current,
                // Before the minimum period is over the disable is scheduled for the earliest allowed end.
                _ when current.EarliestAllowedEndAtMs > now =>
                    current with { Status = "ENABLED_UNTIL_EARLIEST_ALLOWED_END", EndedAtMs = current.EarliestAllowedEndAtMs },
                _ => current with { Status = "DISABLED", EndedAtMs = now },
            };
        }

        if (next != current)
        {
            await streams.Catalog.SetAccountSettingAsync(CommitmentKey, Serialize(next), ctx.CancellationToken);
        }

        WriteOutput(ctx.Output, next);
    }

    private static void WriteOutput(Utf8JsonWriter w, Commitment c)
    {
        w.WriteStartObject();
        w.WriteStartObject(CommitmentKey);
        w.WriteString("Status", c.Status);
        if (c.StartedAtMs is { } started)
        {
            JsonTimestamps.WriteEpochSeconds(w, "StartedAt", started);
        }

        if (c.EndedAtMs is { } ended)
        {
            JsonTimestamps.WriteEpochSeconds(w, "EndedAt", ended);
        }

        if (c.EarliestAllowedEndAtMs is { } earliest)
        {
            JsonTimestamps.WriteEpochSeconds(w, "EarliestAllowedEndAt", earliest);
        }

        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static async ValueTask<Commitment> LoadAsync(StreamService streams, CancellationToken ct)
    {
        var json = await streams.Catalog.GetAccountSettingAsync(CommitmentKey, ct);
        if (json is null)
        {
            return Commitment.Disabled;
        }

        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        static long? Ms(JsonElement root, string name) =>
            root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number ? e.GetInt64() : null;
        return new Commitment(root.GetProperty("Status").GetString()!, Ms(root, "StartedAtMs"), Ms(root, "EndedAtMs"), Ms(root, "EarliestAllowedEndAtMs"));
    }

    private static string Serialize(Commitment c)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("Status", c.Status);
            void Ms(string name, long? value)
            {
                if (value is { } v)
                {
                    w.WriteNumber(name, v);
                }
            }

            Ms("StartedAtMs", c.StartedAtMs);
            Ms("EndedAtMs", c.EndedAtMs);
            Ms("EarliestAllowedEndAtMs", c.EarliestAllowedEndAtMs);
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
