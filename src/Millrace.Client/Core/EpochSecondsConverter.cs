using System.Text.Json;
using System.Text.Json.Serialization;

namespace Millrace.Client;

/// <summary>AWS JSON timestamps: seconds since the epoch as a number, with millisecond fraction.</summary>
public sealed class EpochSecondsConverter : JsonConverter<DateTime?>
{
    public override DateTime? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.Number => DateTime.UnixEpoch.AddTicks((long)Math.Round(reader.GetDouble() * 1000) * TimeSpan.TicksPerMillisecond),
            JsonTokenType.String => DateTime.Parse(reader.GetString()!, System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal),
            _ => throw new JsonException($"expected a timestamp, got {reader.TokenType}"),
        };

    public override void Write(Utf8JsonWriter writer, DateTime? value, JsonSerializerOptions options)
    {
        if (value is not { } v)
        {
            writer.WriteNullValue();
            return;
        }
        var utc = v.Kind == DateTimeKind.Local ? v.ToUniversalTime() : v;
        var ms = (utc - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerMillisecond;
        writer.WriteNumberValue(ms / 1000m);
    }
}
