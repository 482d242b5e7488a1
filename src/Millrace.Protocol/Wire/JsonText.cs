namespace Millrace.Protocol.Wire;

/// <summary>
/// JSON text that parses but does not decode: System.Text.Json checks a string's UTF-8 and its \u escapes only when
/// the string is read, and then throws <see cref="InvalidOperationException"/>. Requests holding such text are the
/// client's fault (AWS answers 400 SerializationException), not an internal failure.
/// </summary>
public static class JsonText
{
    /// <summary>
    /// Parsing options for JSON from outside (records, function responses, headers): a repeated property is a
    /// JsonException at once, rather than an ArgumentException later when the JsonObject is first read.
    /// </summary>
    public static readonly System.Text.Json.JsonDocumentOptions StrictDocument = new() { AllowDuplicateProperties = false };

    public const string UndecodableString = "Invalid UTF-8 or an unpaired UTF-16 surrogate escape in a JSON string.";

    /// <summary>True for the exception System.Text.Json throws when a string it was asked for does not decode.</summary>
    public static bool IsUndecodableString(Exception e) =>
        e is InvalidOperationException && e.TargetSite?.DeclaringType?.Assembly == typeof(System.Text.Json.JsonDocument).Assembly;
}
