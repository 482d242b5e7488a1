using Millrace.Protocol;

namespace Millrace.Kinesis;

/// <summary>IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod (24 to 8760 hours).</summary>
public sealed class RetentionOperations(StreamService streams)
{
    private const int MinHours = 24;
    private const int MaxHours = 8760;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["IncreaseStreamRetentionPeriod"] = ctx => ChangeAsync(ctx, increase: true);
        operations["DecreaseStreamRetentionPeriod"] = ctx => ChangeAsync(ctx, increase: false);
    }

    private async ValueTask ChangeAsync(OperationContext ctx, bool increase)
    {
        int hours = ctx.GetInt32("RetentionPeriodHours")!.Value;
        if (hours < MinHours)
        {
            throw KinesisException.InvalidArgument(
                $"Minimum allowed retention period is {MinHours} hours. Requested retention period ({hours} hours) is too short.");
        }

        if (hours > MaxHours)
        {
            throw KinesisException.InvalidArgument(
                $"Maximum allowed retention period is {MaxHours} hours. Requested retention period ({hours} hours) is too long.");
        }

        await ControlPlane.ChangeActiveStreamAsync(streams, ctx, s =>
        {
            // The model documents "must be more (less) than the current retention period", so equal is rejected too.
            if (hours == s.RetentionPeriodHours)
            {
                throw KinesisException.InvalidArgument(
                    $"Requested retention period ({hours} hours) for stream {s.StreamName} must be {(increase ? "longer" : "shorter")} than the existing retention period ({s.RetentionPeriodHours} hours).");
            }

            if (increase && hours < s.RetentionPeriodHours)
            {
                throw KinesisException.InvalidArgument(
                    $"Requested retention period ({hours} hours) for stream {s.StreamName} can not be shorter than existing retention period ({s.RetentionPeriodHours} hours). Use DecreaseRetentionPeriod API.");
            }

            if (!increase && hours > s.RetentionPeriodHours)
            {
                throw KinesisException.InvalidArgument(
                    $"Requested retention period ({hours} hours) for stream {s.StreamName} can not be longer than existing retention period ({s.RetentionPeriodHours} hours). Use IncreaseRetentionPeriod API.");
            }

            // What expired under the old period stays expired: remember where it ended.
            long expiredBefore = Math.Max(s.ExpiredBeforeMs, streams.RetentionCutoffMs(s, ctx.NowMs));
            return s with { RetentionPeriodHours = hours, ExpiredBeforeMs = expiredBefore };
        });
    }
}
