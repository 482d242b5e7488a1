using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Millrace.Agent.Processing;

/// <summary>
/// A flow's <c>dataProcessingOptions</c>, applied in order as the AWS agent applies them (its converters' behaviour,
/// field names and JSON layout are followed: Jackson's compact form, or its pretty printer's <c>"key" : value</c>).
/// </summary>
internal static class DataProcessing
{
    private static readonly string[] Options = ["SINGLELINE", "CSVTOJSON", "LOGTOJSON", "ADDMETADATA", "ADDEC2METADATA", "ADDBRACKETS", "USINGPLUGGIN"];

    public static IReadOnlyList<IDataConverter> Parse(JsonArray? options, string path)
    {
        if (options is null)
        {
            return [];
        }

        var converters = new List<IDataConverter>(options.Count);
        for (var i = 0; i < options.Count; i++)
        {
            var at = $"{path}[{i}]";
            var o = options[i] as JsonObject ?? throw new AgentConfigurationException($"{at} must be an object");
            var name = Text(o, "optionName", at) ?? throw new AgentConfigurationException($"{at}.optionName is required");
            converters.Add(name switch
            {
                "SINGLELINE" => SingleLine(o, at),
                "CSVTOJSON" => CsvToJson(o, at),
                "LOGTOJSON" => LogToJson(o, at),
                "ADDMETADATA" => AddMetadata(o, at),
                "ADDBRACKETS" => Only(o, at, []) ?? new Brackets(),
                "ADDEC2METADATA" => Ec2Metadata.Create(o, at, Pretty(o, at)),
                "USINGPLUGGIN" => throw new AgentConfigurationException($"{at}: USINGPLUGGIN loads Java classes; millrace agent cannot"),
                _ => throw new AgentConfigurationException($"{at}.optionName {name} is not one of {string.Join(", ", Options)}"),
            });
        }

        return converters;
    }

    private static IDataConverter? Only(JsonObject o, string at, string[] keys)
    {
        foreach (var (key, _) in o)
        {
            if (key != "optionName" && !keys.Contains(key))
            {
                throw new AgentConfigurationException($"{at}.{key} is not a setting of {o["optionName"]}");
            }
        }

        return null;
    }

    private static IDataConverter SingleLine(JsonObject o, string at)
    {
        Only(o, at, ["parseOptions"]);

        // One option, or a list of them.
        var parse = o["parseOptions"] is JsonArray ? Names(o, "parseOptions", at)! : Text(o, "parseOptions", at) is { } one ? [one] : [];
        foreach (var option in parse.Where(p => p is not ("NO_TRIM" or "ESCAPE_NEW_LINE")))
        {
            throw new AgentConfigurationException($"{at}.parseOptions must be NO_TRIM or ESCAPE_NEW_LINE, not {option}");
        }

        return new SingleLine(trim: !parse.Contains("NO_TRIM"), escape: parse.Contains("ESCAPE_NEW_LINE"));
    }

    private static IDataConverter CsvToJson(JsonObject o, string at)
    {
        Only(o, at, ["customFieldNames", "delimiter", "jsonFormat"]);
        var fields = Names(o, "customFieldNames", at) ?? throw new AgentConfigurationException($"{at}.customFieldNames is required for CSVTOJSON");
        var delimiter = Text(o, "delimiter", at) ?? ",";
        return new CsvToJson(fields, JavaRegex(delimiter, at + ".delimiter"), Pretty(o, at));
    }

    private static IDataConverter LogToJson(JsonObject o, string at)
    {
        Only(o, at, ["logFormat", "matchPattern", "customFieldNames", "jsonFormat"]);
        var format = Text(o, "logFormat", at) ?? throw new AgentConfigurationException($"{at}.logFormat is required for LOGTOJSON");
        var custom = Names(o, "customFieldNames", at);
        var match = Text(o, "matchPattern", at);
        if (!LogFormats.Known.TryGetValue(format, out var known))
        {
            throw new AgentConfigurationException($"{at}.logFormat must be one of {string.Join(", ", LogFormats.Known.Keys)}, not {format}");
        }

        if (match is not null && custom is null)
        {
            throw new AgentConfigurationException($"{at}.customFieldNames is required when matchPattern is given");
        }

        var pattern = match is not null ? JavaRegex(match, at + ".matchPattern") : known.Pattern;
        var fields = custom ?? known.Fields;
        if (match is null && custom is not null && custom.Count != known.Fields.Count)
        {
            throw new AgentConfigurationException($"{at}.customFieldNames must name {known.Fields.Count} fields for {format}, or give a matchPattern");
        }

        // Java's Matcher.matches(): the whole line, not a part of it.
        var whole = new Regex(@"\A(?:" + pattern + @")\z", RegexOptions.Compiled | RegexOptions.CultureInvariant);
        return new LogToJson(whole, fields, nullDash: format.Contains("APACHE", StringComparison.Ordinal), Pretty(o, at));
    }

    private static IDataConverter AddMetadata(JsonObject o, string at)
    {
        Only(o, at, ["metadata", "timestamp", "jsonFormat"]);
        var timestamp = o["timestamp"] switch
        {
            null => false,
            JsonValue v when v.GetValueKind() == JsonValueKind.String && bool.TryParse(v.GetValue<string>(), out var b) => b,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            _ => throw new AgentConfigurationException($"{at}.timestamp must be \"true\" or \"false\""),
        };
        return new AddMetadata(o["metadata"]?.DeepClone(), timestamp, Pretty(o, at));
    }

    private static bool Pretty(JsonObject o, string at) => (Text(o, "jsonFormat", at) ?? "COMPACT") switch
    {
        "COMPACT" => false,
        "PRETTYPRINT" => true,
        var other => throw new AgentConfigurationException($"{at}.jsonFormat must be COMPACT or PRETTYPRINT, not {other}"),
    };

    private static string? Text(JsonObject o, string key, string at) => o[key] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw new AgentConfigurationException($"{at}.{key} must be a string"),
    };

    private static List<string>? Names(JsonObject o, string key, string at) => o[key] switch
    {
        null => null,
        JsonArray a when a.Count > 0 && a.All(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.String) => a.Select(n => n!.GetValue<string>()).ToList(),
        _ => throw new AgentConfigurationException($"{at}.{key} must be a non-empty list of strings"),
    };

    /// <summary>Java's regex dialect is close to .NET's for these uses; a pattern .NET rejects is a configuration error.</summary>
    private static Regex JavaRegex(string pattern, string key)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new AgentConfigurationException($"{key} is not a valid regular expression: {e.Message}");
        }
    }
}

/// <summary>The record as text without the one trailing newline the AWS converters strip before converting.</summary>
internal static class RecordText
{
    public static string WithoutNewline(ReadOnlySpan<byte> record) =>
        Encoding.UTF8.GetString(record.Length > 0 && record[^1] == (byte)'\n' ? record[..^1] : record);

    /// <summary>Jackson's output as the AWS agent prints it: compact, or its default pretty printer's layout; then a newline.</summary>
    public static byte[] Json(IReadOnlyList<KeyValuePair<string, JsonNode?>> fields, bool pretty)
    {
        var text = new StringBuilder();
        Write(text, new JsonObject(fields.Select(f => KeyValuePair.Create(f.Key, f.Value?.DeepClone()))), pretty, 0);
        text.Append('\n');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Write(StringBuilder text, JsonNode? node, bool pretty, int depth)
    {
        switch (node)
        {
            case JsonObject o:
                if (o.Count == 0)
                {
                    text.Append(pretty ? "{ }" : "{}");
                    return;
                }

                text.Append('{');
                var first = true;
                foreach (var (key, value) in o)
                {
                    text.Append(first ? "" : ",");
                    first = false;
                    if (pretty)
                    {
                        text.Append('\n').Append(' ', (depth + 1) * 2);
                    }

                    text.Append(JsonSerializer.Serialize(key, Relaxed)).Append(pretty ? " : " : ":");
                    Write(text, value, pretty, depth + 1);
                }

                if (pretty)
                {
                    text.Append('\n').Append(' ', depth * 2);
                }

                text.Append('}');
                return;
            case JsonArray a:
                text.Append('[');
                for (var i = 0; i < a.Count; i++)
                {
                    text.Append(i == 0 ? "" : pretty ? ", " : ",");
                    Write(text, a[i], pretty, depth + 1);
                }

                text.Append(']');
                return;
            case null:
                text.Append("null");
                return;
            default:
                text.Append(node.ToJsonString(Relaxed));
                return;
        }
    }
}

/// <summary>SINGLELINE: the record's lines, each trimmed (unless NO_TRIM), joined with nothing (or a literal <c>\n</c> with ESCAPE_NEW_LINE), then a newline.</summary>
internal sealed class SingleLine(bool trim, bool escape) : IDataConverter
{
    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        var lines = Encoding.UTF8.GetString(record).Split('\n');
        var count = lines.Length;
        while (count > 0 && lines[count - 1].Length == 0)
        {
            count--; // Java's split drops trailing empty strings
        }

        var parts = lines.Take(count).Select(l => trim ? l.Trim() : l);
        return Encoding.UTF8.GetBytes(string.Join(escape ? "\\n" : "", parts) + "\n");
    }
}

/// <summary>CSVTOJSON: the line split at the delimiter (a regex, as Java's String.split); fields without a column are null, extra columns dropped.</summary>
internal sealed class CsvToJson(IReadOnlyList<string> fields, Regex delimiter, bool pretty) : IDataConverter
{
    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        var columns = delimiter.Split(RecordText.WithoutNewline(record));
        var count = columns.Length;
        while (count > 0 && columns[count - 1].Length == 0)
        {
            count--; // Java's split drops trailing empty strings
        }

        var values = new List<KeyValuePair<string, JsonNode?>>(fields.Count);
        for (var i = 0; i < fields.Count; i++)
        {
            values.Add(KeyValuePair.Create(fields[i], i < count ? (JsonNode?)JsonValue.Create(columns[i]) : null));
        }

        return RecordText.Json(values, pretty);
    }
}

/// <summary>LOGTOJSON: the line matched against the format's pattern; a line that does not match is skipped (as the AWS agent skips it). Apache's "-" is null.</summary>
internal sealed class LogToJson(Regex pattern, IReadOnlyList<string> fields, bool nullDash, bool pretty) : IDataConverter
{
    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        var text = RecordText.WithoutNewline(record);
        var match = pattern.Match(text);
        if (!match.Success || match.Groups.Count - 1 != fields.Count)
        {
            return null;
        }

        var values = new List<KeyValuePair<string, JsonNode?>>(fields.Count);
        for (var i = 0; i < fields.Count; i++)
        {
            var g = match.Groups[i + 1];
            var value = g.Success ? g.Value : null;
            values.Add(KeyValuePair.Create(fields[i], value is null || (nullDash && value == "-") ? null : (JsonNode?)JsonValue.Create(value)));
        }

        return RecordText.Json(values, pretty);
    }
}

/// <summary>ADDMETADATA: <c>{"metadata":...,"data":"&lt;the record&gt;"}</c> (and <c>"ts"</c>, the UTC time, with timestamp "true").</summary>
internal sealed class AddMetadata(JsonNode? metadata, bool timestamp, bool pretty) : IDataConverter
{
    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        var values = new List<KeyValuePair<string, JsonNode?>>(3)
        {
            KeyValuePair.Create("metadata", metadata),
            KeyValuePair.Create<string, JsonNode?>("data", JsonValue.Create(RecordText.WithoutNewline(record))),
        };
        if (timestamp)
        {
            values.Add(KeyValuePair.Create<string, JsonNode?>("ts", JsonValue.Create(DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture))));
        }

        return RecordText.Json(values, pretty);
    }
}

/// <summary>ADDBRACKETS: <c>{</c> + the record as it is (its newline included) + <c>}</c>, as the AWS agent's BracketsDataConverter.</summary>
internal sealed class Brackets : IDataConverter
{
    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        var result = new byte[record.Length + 2];
        result[0] = (byte)'{';
        record.CopyTo(result.AsSpan(1));
        result[^1] = (byte)'}';
        return result;
    }
}

/// <summary>The AWS agent's predefined log formats: its regular expressions (PatternConstants) and default field names.</summary>
internal static class LogFormats
{
    private const string Int = "(?:[+-]?(?:[0-9]+))";
    private const string PosInt = "(?:[1-9][0-9]*)";
    private const string NonNegInt = "(?:[0-9]+)";
    private const string Word = @"\w+";
    private const string NoQuote = "[^\"]+";
    private const string Ip = @"(?:[\d\.]+)";
    private const string HostName = @"(?:[\w\-]+)(?:\.(?:[\w\-]+))*(?:\.?|\b)";
    private const string IpOrHost = "(?:" + HostName + "|" + Ip + ")";
    private const string UriHost = "(?:" + IpOrHost + "(?::" + PosInt + ")?)";
    private const string User = "(?:[a-zA-Z0-9._-]+)";
    private const string MonthDay = "(?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])";
    private const string Day = "(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|Sat(?:urday)?|Sun(?:day)?)";
    private const string Month = @"\b(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|Jun(?:e)?|Jul(?:y)?|Aug(?:ust)?|Sep(?:tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b";
    private const string Year = @"(?:[1-9]\d*)";
    private const string Hour = "(?:2[0123]|[01]?[0-9])";
    private const string Minute = "(?:[0-5][0-9])";
    private const string Second = @"(?:(?:[0-5]?[0-9]|60)(?:[:\.,][0-9]+)?)";
    private const string Time = "(?:" + Hour + ":" + Minute + ":" + Second + ")";
    private const string HttpDate = "(?:" + MonthDay + "/" + Month + "/" + Year + ":" + Time + @"\s" + Int + ")";
    private const string ErrorLogTimestamp = "(?:" + Day + @"\s+" + Month + @"\s+" + MonthDay + @"\s+" + Time + @"\s+" + Year + ")";
    private const string SyslogTimestamp = "(?:" + Month + @"\s+" + MonthDay + @"\s+" + Time + ")";
    private const string Rfc3339 = @"(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:Z|(?:[-+]\d{2}:\d{2}))";
    private const string SyslogFacility = "<" + NonNegInt + "." + NonNegInt + ">";
    private const string SyslogProgram = @"([\w\._/%-]+)(?:\[(" + PosInt + @")\])?";
    private const string CommonApache = "^(" + IpOrHost + ") (" + User + ") (" + User + @") \[(" + HttpDate + @")\] ""(" + NoQuote + @")"" (" + Int + @"|\-) (" + Int + @"|\-)";
    private const string CombinedApache = CommonApache + @" ""(" + NoQuote + @")"" ""(" + NoQuote + @")""";
    private const string ApacheError = @"^\[(" + ErrorLogTimestamp + @")\] \[(?:(" + Word + "):)?(" + Word + @")\] \[pid (" + NonNegInt + ")(?::tid (" + NonNegInt + @"))?\] \[client (" + UriHost + @")\] (.*)";
    private const string SyslogTail = "(?:" + SyslogFacility + " )?(" + User + ") " + SyslogProgram + ": (.*)";

    private static readonly string[] CommonFields = ["host", "ident", "authuser", "datetime", "request", "response", "bytes"];
    private static readonly string[] SyslogFields = ["timestamp", "hostname", "program", "processid", "message"];

    private static Regex Compile(string pattern) => new(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);

    public static readonly IReadOnlyDictionary<string, (Regex Pattern, IReadOnlyList<string> Fields)> Known = new Dictionary<string, (Regex, IReadOnlyList<string>)>
    {
        // Apache's access formats allow anything after the known fields (the agent appends ".*").
        ["COMMONAPACHELOG"] = (Compile(CommonApache + ".*"), CommonFields),
        ["COMBINEDAPACHELOG"] = (Compile(CombinedApache + ".*"), [.. CommonFields, "referer", "agent"]),
        ["APACHEERRORLOG"] = (Compile(ApacheError), ["timestamp", "module", "severity", "processid", "threadid", "client", "message"]),
        ["SYSLOG"] = (Compile("^(" + SyslogTimestamp + ") " + SyslogTail), SyslogFields),
        ["RFC3339SYSLOG"] = (Compile("^(" + Rfc3339 + ") " + SyslogTail), SyslogFields),
    };
}

/// <summary>
/// ADDEC2METADATA: adds the instance's identity (privateIp, availabilityZone, instanceId, instanceType, accountId,
/// amiId, region, metadataTimestamp) to a JSON record, refreshed every metadataTTL seconds (default 3600). The
/// metadata service is AWS_EC2_METADATA_SERVICE_ENDPOINT (the SDKs' variable), else the link-local default, read
/// with IMDSv2; if none answers at start, the agent does not start. EC2 tags (DescribeTags) are not added.
/// </summary>
internal sealed class Ec2Metadata : IDataConverter
{
    private readonly Uri _endpoint;
    private readonly long _ttlMs;
    private readonly bool _pretty;
    private JsonObject _metadata;
    private long _fetchedMs;

    private Ec2Metadata(Uri endpoint, long ttlMs, bool pretty, JsonObject metadata)
    {
        _endpoint = endpoint;
        _ttlMs = ttlMs;
        _pretty = pretty;
        _metadata = metadata;
        _fetchedMs = Environment.TickCount64;
    }

    public static Ec2Metadata Create(JsonObject o, string at, bool pretty)
    {
        foreach (var (key, _) in o)
        {
            if (key is not ("optionName" or "metadataTTL" or "jsonFormat"))
            {
                throw new AgentConfigurationException($"{at}.{key} is not a setting of ADDEC2METADATA");
            }
        }

        long ttl = 3600;
        if (o["metadataTTL"] is JsonValue v && (v.TryGetValue<long>(out var n) || long.TryParse(v.ToString(), out n)))
        {
            ttl = n;
        }
        else if (o["metadataTTL"] is not null)
        {
            throw new AgentConfigurationException($"{at}.metadataTTL must be a whole number of seconds");
        }

        var endpoint = new Uri(Environment.GetEnvironmentVariable("AWS_EC2_METADATA_SERVICE_ENDPOINT") is { Length: > 0 } e ? e : "http://169.254.169.254/");
        var metadata = Fetch(endpoint)
            ?? throw new AgentConfigurationException($"{at}: ADDEC2METADATA needs an EC2 instance metadata service; none answered at {endpoint}");
        return new Ec2Metadata(endpoint, ttl * 1000, pretty, metadata);
    }

    public byte[]? Convert(ReadOnlySpan<byte> record)
    {
        if (Environment.TickCount64 - _fetchedMs > _ttlMs)
        {
            _fetchedMs = Environment.TickCount64;
            _metadata = Fetch(_endpoint) ?? _metadata;
        }

        JsonObject? data;
        try
        {
            // A record with a repeated key is not taken for JSON (JsonObject would throw when enumerated).
            data = JsonNode.Parse(record, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject;
        }
        catch (JsonException)
        {
            data = null;
        }

        if (data is null)
        {
            // As the AWS agent, only JSON records take the metadata; others pass as they are.
            return record.ToArray();
        }

        var fields = data.Select(f => KeyValuePair.Create(f.Key, f.Value)).ToList();
        foreach (var (key, value) in _metadata)
        {
            fields.RemoveAll(f => f.Key == key);
            fields.Add(KeyValuePair.Create(key, value));
        }

        return RecordText.Json(fields, _pretty);
    }

    private static JsonObject? Fetch(Uri endpoint)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = endpoint, Timeout = TimeSpan.FromSeconds(1) };
            using var tokenRequest = new HttpRequestMessage(HttpMethod.Put, "latest/api/token");
            tokenRequest.Headers.Add("X-aws-ec2-metadata-token-ttl-seconds", "21600");
            using var tokenResponse = http.Send(tokenRequest);
            var token = tokenResponse.IsSuccessStatusCode ? new StreamReader(tokenResponse.Content.ReadAsStream()).ReadToEnd() : null;
            using var documentRequest = new HttpRequestMessage(HttpMethod.Get, "latest/dynamic/instance-identity/document");
            if (token is not null)
            {
                documentRequest.Headers.Add("X-aws-ec2-metadata-token", token);
            }

            using var response = http.Send(documentRequest);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }

            var document = JsonNode.Parse(response.Content.ReadAsStream(), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false })!.AsObject();
            return new JsonObject
            {
                ["privateIp"] = document["privateIp"]?.DeepClone(),
                ["availabilityZone"] = document["availabilityZone"]?.DeepClone(),
                ["instanceId"] = document["instanceId"]?.DeepClone(),
                ["instanceType"] = document["instanceType"]?.DeepClone(),
                ["accountId"] = document["accountId"]?.DeepClone(),
                ["amiId"] = document["imageId"]?.DeepClone(),
                ["region"] = document["region"]?.DeepClone(),
                ["metadataTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'+0000'", System.Globalization.CultureInfo.InvariantCulture),
            };
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException or IOException)
        {
            return null;
        }
    }
}
