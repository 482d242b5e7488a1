using Millrace.Firehose.Prefixes;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// The S3 keys of one target: <c>&lt;evaluated prefix&gt;&lt;stream&gt;-&lt;version&gt;-yyyy-MM-dd-HH-mm-ss-&lt;uuid&gt;&lt;ext&gt;</c>
/// for data, the ErrorOutputPrefix (or <c>&lt;prefix&gt;&lt;error-output-type&gt;/yyyy/MM/dd/HH/</c>) for errors. Times are
/// the arrival of the oldest record of the object, in the target's time zone.
/// </summary>
internal sealed class ObjectKeys(S3Target target, string streamName, int version, bool partitioned)
{
    private readonly FirehosePrefix _prefix = FirehosePrefix.Parse(target.Prefix, PrefixKind.Prefix);
    private readonly FirehosePrefix? _errorPrefix = string.IsNullOrEmpty(target.ErrorOutputPrefix) ? null : FirehosePrefix.Parse(target.ErrorOutputPrefix, PrefixKind.ErrorOutputPrefix);

    public string DataKey(long oldestMs, FirehoseRecord? sample, string extension)
    {
        var time = Local(oldestMs);
        var prefix = _prefix.Render(new PrefixContext(time, target.Zone)
        {
            QueryKeys = partitioned ? sample?.QueryKeys : null,
            LambdaKeys = partitioned ? sample?.LambdaKeys : null,
        });
        return prefix + FirehosePrefix.ObjectName(streamName, version, time, extension);
    }

    public string ErrorKey(long oldestMs, string errorOutputType, string extension)
    {
        var time = Local(oldestMs);
        var prefix = _errorPrefix is not null
            ? _errorPrefix.Render(new PrefixContext(time, target.Zone) { ErrorOutputType = errorOutputType })
            : FirehosePrefix.DefaultErrorPrefix(target.Prefix, errorOutputType, time);
        return prefix + FirehosePrefix.ObjectName(streamName, version, time, extension);
    }

    /// <summary>Which object a record goes to: records with the same partition keys share one; false when the prefix cannot be evaluated for it.</summary>
    public bool TryGroup(FirehoseRecord record, out string group, out string error)
    {
        error = "";
        if (!partitioned)
        {
            group = "";
            return true;
        }

        try
        {
            // Render with a fixed time: only the partition keys decide the group.
            group = _prefix.Render(new PrefixContext(DateTimeOffset.UnixEpoch, TimeZoneInfo.Utc) { QueryKeys = record.QueryKeys, LambdaKeys = record.LambdaKeys, Deterministic = true });
            return true;
        }
        catch (PrefixException e)
        {
            group = "";
            error = e.Message;
            return false;
        }
    }

    private DateTimeOffset Local(long ms) => TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(ms), target.Zone);
}
