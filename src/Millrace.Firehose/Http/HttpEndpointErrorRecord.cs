using System.Buffers;
using System.Text.Json;

namespace Millrace.Firehose.Http;

/// <summary>
/// The JSON line Firehose writes to the <c>http-endpoint-failed</c> error output for each record of a failed delivery
/// (developer guide, "Data Delivery Failure Handling"): attemptsMade, arrivalTimestamp, errorCode, errorMessage,
/// attemptEndingTimestamp, rawData (base64), subsequenceNumber and dataId.
/// </summary>
public static class HttpEndpointErrorRecord
{
    /// <summary>
    /// Appends one error record and a newline. <paramref name="dataId"/> identifies the source record (for a stream
    /// source, "&lt;sequenceNumber&gt;.&lt;subsequence&gt;"); <paramref name="subsequenceNumber"/> is its position
    /// after deaggregation (0 when not aggregated).
    /// </summary>
    public static void Write(IBufferWriter<byte> output, HttpDeliveryOutcome outcome, ReadOnlySpan<byte> rawData, DateTimeOffset arrivalTimestamp, string dataId, long subsequenceNumber = 0)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(outcome);
        using (var writer = new Utf8JsonWriter(output))
        {
            writer.WriteStartObject();
            writer.WriteNumber("attemptsMade"u8, outcome.AttemptsMade);
            writer.WriteNumber("arrivalTimestamp"u8, arrivalTimestamp.ToUnixTimeMilliseconds());
            writer.WriteString("errorCode"u8, outcome.ErrorCode);
            writer.WriteString("errorMessage"u8, outcome.ErrorMessage);
            writer.WriteNumber("attemptEndingTimestamp"u8, outcome.AttemptEndingTimestamp.ToUnixTimeMilliseconds());
            writer.WriteBase64String("rawData"u8, rawData);
            writer.WriteNumber("subsequenceNumber"u8, subsequenceNumber);
            writer.WriteString("dataId"u8, dataId);
            writer.WriteEndObject();
        }

        output.Write("\n"u8);
    }
}
