using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Millrace.Lambda.Mappings;

/// <summary>
/// One tumbling window of a shard: its bounds (epoch seconds, aligned to multiples of the window length, from the
/// records' arrival times), the state the function returned last, and the records it has taken, which are
/// checkpointed only once the window's final invocation succeeds.
/// </summary>
internal sealed class TumblingWindow(long start, long length)
{
    /// <summary>AWS ends a window early when its state grows past 1 MB.</summary>
    public const int MaxStateBytes = 1024 * 1024;

    public long Start { get; } = start;

    public long End => Start + length;

    /// <summary>The state as raw JSON: what the last invocation returned, <c>{}</c> at first.</summary>
    public string State { get; private set; } = "{}";

    public bool Final { get; set; }

    public bool TerminatedEarly { get; set; }

    public List<StreamRecord> Processed { get; } = [];

    public bool StateTooLarge => Encoding.UTF8.GetByteCount(State) > MaxStateBytes;

    public static long StartOf(StreamRecord record, long length) => (long)Math.Floor(record.Arrival / length) * length;

    public static string Iso(long epochSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(epochSeconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Takes the <c>state</c> of a function's response; false when the response has none.</summary>
    public bool TakeState(byte[] payload)
    {
        try
        {
            if (payload.Length > 0 && JsonNode.Parse(payload, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument) is JsonObject response && response.TryGetPropertyValue("state", out var state))
            {
                State = state?.ToJsonString() ?? "{}";
                return true;
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }
}
