namespace Millrace.CloudWatch;

/// <summary>Where the CloudWatch service runs, how long it keeps data and how often it evaluates alarms.</summary>
public sealed class CloudWatchOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>How long 1-minute data is kept (AWS keeps it 15 days).</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(15);

    /// <summary>How long 1-second (high-resolution) data is kept (AWS: 3 hours).</summary>
    public TimeSpan HighResolutionRetention { get; init; } = TimeSpan.FromHours(3);

    /// <summary>How often alarms are evaluated (AWS: every minute; sooner here so local runs see them turn quickly).</summary>
    public TimeSpan AlarmEvaluationInterval { get; init; } = TimeSpan.FromSeconds(10);
}
