using System.Collections.Concurrent;
using System.Text.Json;

namespace Millrace.Protocol.Models;

/// <summary>
/// An AWS service model (botocore's service-2.json without documentation, written to <c>Models/&lt;service&gt;.json</c>
/// by <c>scripts/generate-service-models.py</c> and embedded): metadata, operations and shapes. Immutable once
/// loaded; <see cref="Get"/> caches one instance per embedded model.
/// </summary>
public sealed class ServiceModel
{
    private static readonly ConcurrentDictionary<string, Lazy<ServiceModel>> Embedded = new(StringComparer.Ordinal);

    private ServiceModel(JsonElement metadata, Dictionary<string, ShapeModel> shapes, Dictionary<string, OperationModel> operations)
    {
        string? Text(string name) => metadata.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        ApiVersion = Text("apiVersion") ?? "";
        EndpointPrefix = Text("endpointPrefix") ?? "";
        SigningName = Text("signingName") ?? EndpointPrefix;
        ServiceId = Text("serviceId") ?? EndpointPrefix;
        TargetPrefix = Text("targetPrefix");
        JsonVersion = Text("jsonVersion") ?? "1.0";
        XmlNamespace = Text("xmlNamespace");
        Protocol = Text("protocol") ?? "";
        Protocols = metadata.TryGetProperty("protocols", out var ps) ? [.. ps.EnumerateArray().Select(p => p.GetString()!)] : [Protocol];
        AwsQueryCompatible = metadata.TryGetProperty("awsQueryCompatible", out _);
        Shapes = shapes;
        Operations = operations;
    }

    public string ApiVersion { get; }

    public string EndpointPrefix { get; }

    /// <summary>The SigV4 signing name (metadata.signingName, else the endpoint prefix).</summary>
    public string SigningName { get; }

    public string ServiceId { get; }

    /// <summary>X-Amz-Target prefix of the JSON protocols; also the service name in rpc-v2-cbor paths.</summary>
    public string? TargetPrefix { get; }

    public string JsonVersion { get; }

    public string? XmlNamespace { get; }

    /// <summary>The model's default protocol (metadata.protocol): json, rest-json, rest-xml, query, smithy-rpc-v2-cbor.</summary>
    public string Protocol { get; }

    /// <summary>Every protocol the service speaks (metadata.protocols).</summary>
    public IReadOnlyList<string> Protocols { get; }

    /// <summary>JSON and CBOR errors also carry the query error code in <c>x-amzn-query-error</c> (CloudWatch, SQS).</summary>
    public bool AwsQueryCompatible { get; }

    public IReadOnlyDictionary<string, ShapeModel> Shapes { get; }

    public IReadOnlyDictionary<string, OperationModel> Operations { get; }

    /// <summary>Names of the embedded models ("kinesis", "sts", ...).</summary>
    public static IReadOnlyList<string> EmbeddedNames =>
        [.. typeof(ServiceModel).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("models/", StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
            .Select(n => n["models/".Length..^".json".Length])
            .Order(StringComparer.Ordinal)];

    /// <summary>The embedded model of a service (e.g. "sts", "cloudwatch"), loaded once.</summary>
    public static ServiceModel Get(string name) =>
        Embedded.GetOrAdd(name, n => new Lazy<ServiceModel>(() => LoadEmbedded(n), LazyThreadSafetyMode.ExecutionAndPublication)).Value;

    public OperationModel GetOperation(string name) =>
        Operations.TryGetValue(name, out var op) ? op : throw new KeyNotFoundException($"{ServiceId} has no operation {name}");

    public ShapeModel GetShape(string name) => Shapes[name];

    /// <summary>
    /// Replaces a string shape's pattern where Millrace deliberately accepts more than AWS (e.g. Firehose's http://
    /// endpoints and jdbc:postgresql:// URLs for local use); the service checks such values itself.
    /// </summary>
    public void WidenPattern(string shape, string pattern) => Shapes[shape].Pattern = pattern;

    /// <summary>The error shape for a code: the shape's name or its query error code (<c>error.code</c>).</summary>
    public ShapeModel? FindError(string code)
    {
        if (Shapes.TryGetValue(code, out var shape) && shape.IsException)
        {
            return shape;
        }

        foreach (var s in Shapes.Values)
        {
            if (s.IsException && s.ErrorCode == code)
            {
                return s;
            }
        }

        return null;
    }

    public static ServiceModel Load(Stream utf8Json)
    {
        using var document = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = 256 });
        var root = document.RootElement;
        var shapes = new Dictionary<string, ShapeModel>(StringComparer.Ordinal);
        foreach (var property in root.GetProperty("shapes").EnumerateObject())
        {
            shapes[property.Name] = new ShapeModel(property.Name, property.Value);
        }

        foreach (var property in root.GetProperty("shapes").EnumerateObject())
        {
            shapes[property.Name].Link(property.Value, shapes);
        }

        var operations = new Dictionary<string, OperationModel>(StringComparer.Ordinal);
        var metadata = root.GetProperty("metadata").Clone();
        foreach (var property in root.GetProperty("operations").EnumerateObject())
        {
            operations[property.Name] = new OperationModel(property.Name, property.Value, shapes);
        }

        var model = new ServiceModel(metadata, shapes, operations);
        foreach (var op in operations.Values)
        {
            op.Service = model;
        }

        return model;
    }

    private static ServiceModel LoadEmbedded(string name)
    {
        using var stream = typeof(ServiceModel).Assembly.GetManifestResourceStream("models/" + name + ".json")
            ?? throw new KeyNotFoundException($"No embedded service model '{name}' (known: {string.Join(", ", EmbeddedNames)}).");
        var model = Load(stream);
        model.Name = name;
        return model;
    }

    /// <summary>The embedded model's name ("kinesis", "sts"...); empty for a model loaded from a stream.</summary>
    public string Name { get; private set; } = "";
}

/// <summary>One operation: its HTTP binding and its input, output and error shapes.</summary>
public sealed class OperationModel
{
    internal OperationModel(string name, JsonElement json, Dictionary<string, ShapeModel> shapes)
    {
        Name = name;
        if (json.TryGetProperty("http", out var http))
        {
            HttpMethod = http.TryGetProperty("method", out var m) ? m.GetString()! : "POST";
            RequestUri = http.TryGetProperty("requestUri", out var u) ? u.GetString()! : "/";
            ResponseCode = http.TryGetProperty("responseCode", out var c) ? c.GetInt32() : 200;
        }

        if (json.TryGetProperty("input", out var input))
        {
            Input = shapes[input.GetProperty("shape").GetString()!];
            InputLocationName = input.TryGetProperty("locationName", out var ln) ? ln.GetString() : null;
            InputXmlNamespace = input.TryGetProperty("xmlNamespace", out var ns) && ns.TryGetProperty("uri", out var uri) ? uri.GetString() : null;
        }

        if (json.TryGetProperty("output", out var output))
        {
            Output = shapes[output.GetProperty("shape").GetString()!];
            ResultWrapper = output.TryGetProperty("resultWrapper", out var rw) ? rw.GetString() : null;
        }

        Errors = json.TryGetProperty("errors", out var errors) ? [.. errors.EnumerateArray().Select(e => shapes[e.GetString()!])] : [];
        RequestCompression = json.TryGetProperty("requestcompression", out _);
        Template = UriTemplate.Parse(RequestUri);
    }

    public string Name { get; }

    public ServiceModel Service { get; internal set; } = null!;

    public string HttpMethod { get; } = "POST";

    /// <summary>The REST request URI template, e.g. <c>/2015-03-31/functions/{FunctionName}/invocations</c> or <c>/{Bucket}/{Key+}?tagging</c>.</summary>
    public string RequestUri { get; } = "/";

    public int ResponseCode { get; } = 200;

    public ShapeModel? Input { get; }

    /// <summary>rest-xml: the root element name of an XML input payload (e.g. <c>CreateBucketConfiguration</c>).</summary>
    public string? InputLocationName { get; }

    public string? InputXmlNamespace { get; }

    public ShapeModel? Output { get; }

    /// <summary>query: the element wrapping the output, e.g. <c>GetCallerIdentityResult</c>.</summary>
    public string? ResultWrapper { get; }

    public IReadOnlyList<ShapeModel> Errors { get; }

    public bool RequestCompression { get; }

    /// <summary>REST: the literal path before the first label, e.g. <c>/2015-03-31/functions</c> ("/" when the URI starts with a label).</summary>
    public string LiteralPathPrefix => Template.LiteralPrefix;

    internal UriTemplate Template { get; }
}

/// <summary>The botocore shape types.</summary>
public enum ShapeType
{
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Blob,
    Timestamp,
    Document,
}

/// <summary>One shape: its type, its members (structures), element shapes (lists, maps), constraints and traits.</summary>
public sealed class ShapeModel
{
    private static readonly IReadOnlyList<MemberModel> NoMembers = [];

    internal ShapeModel(string name, JsonElement json)
    {
        Name = name;
        Type = json.GetProperty("type").GetString() switch
        {
            "structure" => ShapeType.Structure,
            "list" => ShapeType.List,
            "map" => ShapeType.Map,
            "string" => ShapeType.String,
            "integer" or "short" or "byte" => ShapeType.Integer,
            "long" => ShapeType.Long,
            "float" => ShapeType.Float,
            "double" or "bigdecimal" => ShapeType.Double,
            "bigInteger" => ShapeType.Long,
            "boolean" => ShapeType.Boolean,
            "blob" => ShapeType.Blob,
            "timestamp" => ShapeType.Timestamp,
            var other => throw new InvalidDataException($"Shape {name} has unsupported type '{other}'."),
        };
        if (json.TryGetProperty("document", out var doc) && doc.ValueKind == JsonValueKind.True)
        {
            Type = ShapeType.Document;
        }

        Min = json.TryGetProperty("min", out var min) ? min.GetDouble() : null;
        Max = json.TryGetProperty("max", out var max) ? max.GetDouble() : null;
        Pattern = json.TryGetProperty("pattern", out var pattern) ? pattern.GetString() : null;
        Enum = json.TryGetProperty("enum", out var values) ? [.. values.EnumerateArray().Select(v => v.GetString()!)] : null;
        Flattened = json.TryGetProperty("flattened", out var f) && f.GetBoolean();
        LocationName = json.TryGetProperty("locationName", out var ln) ? ln.GetString() : null;
        XmlNamespace = json.TryGetProperty("xmlNamespace", out var ns) && ns.TryGetProperty("uri", out var uri) ? uri.GetString() : null;
        TimestampFormat = json.TryGetProperty("timestampFormat", out var tf) ? tf.GetString() : null;
        IsException = json.TryGetProperty("exception", out var ex) && ex.GetBoolean();
        IsFault = json.TryGetProperty("fault", out var fault) && fault.GetBoolean();
        if (json.TryGetProperty("error", out var error))
        {
            ErrorCode = error.TryGetProperty("code", out var code) ? code.GetString() : null;
            ErrorStatus = error.TryGetProperty("httpStatusCode", out var status) ? status.GetInt32() : null;
            SenderFault = error.TryGetProperty("senderFault", out var sender) && sender.GetBoolean();
        }
        else
        {
            SenderFault = !IsFault;
        }

        Payload = json.TryGetProperty("payload", out var payload) ? payload.GetString() : null;
        Streaming = json.TryGetProperty("streaming", out var streaming) && streaming.GetBoolean();
        EventStream = json.TryGetProperty("eventstream", out var es) && es.GetBoolean();
        IsUnion = json.TryGetProperty("union", out var union) && union.GetBoolean();
    }

    public string Name { get; }

    public ShapeType Type { get; }

    /// <summary>Minimum length (strings, blobs, lists, maps) or value (numbers).</summary>
    public double? Min { get; }

    public double? Max { get; }

    public string? Pattern { get; internal set; }

    public IReadOnlyList<string>? Enum { get; }

    public bool Flattened { get; }

    /// <summary>XML element name of the shape (rare; usually set on members).</summary>
    public string? LocationName { get; }

    public string? XmlNamespace { get; }

    /// <summary>iso8601, unixTimestamp or rfc822 when the shape overrides its protocol's default.</summary>
    public string? TimestampFormat { get; }

    public bool IsException { get; }

    public bool IsFault { get; }

    /// <summary>The query/XML error code when it differs from the shape name (e.g. <c>InvalidParameterValue</c>).</summary>
    public string? ErrorCode { get; }

    public int? ErrorStatus { get; }

    public bool SenderFault { get; }

    /// <summary>The member bound to the whole HTTP body (REST protocols).</summary>
    public string? Payload { get; }

    public bool Streaming { get; }

    public bool EventStream { get; }

    public bool IsUnion { get; }

    /// <summary>Structure members in model order.</summary>
    public IReadOnlyList<MemberModel> Members { get; private set; } = NoMembers;

    public MemberModel? ListMember { get; private set; }

    public MemberModel? MapKey { get; private set; }

    public MemberModel? MapValue { get; private set; }

    public bool IsNumber => Type is ShapeType.Integer or ShapeType.Long or ShapeType.Float or ShapeType.Double;

    public bool IsScalar => Type is not (ShapeType.Structure or ShapeType.List or ShapeType.Map or ShapeType.Document);

    public MemberModel? FindMember(string name)
    {
        foreach (var m in Members)
        {
            if (m.Name == name)
            {
                return m;
            }
        }

        return null;
    }

    internal void Link(JsonElement json, Dictionary<string, ShapeModel> shapes)
    {
        var required = json.TryGetProperty("required", out var req) ? req.EnumerateArray().Select(r => r.GetString()!).ToHashSet(StringComparer.Ordinal) : [];
        if (json.TryGetProperty("members", out var members))
        {
            Members = [.. members.EnumerateObject().Select(m => new MemberModel(m.Name, m.Value, shapes, required.Contains(m.Name)))];
        }

        if (json.TryGetProperty("member", out var member))
        {
            ListMember = new MemberModel("member", member, shapes, false);
        }

        if (json.TryGetProperty("key", out var key))
        {
            MapKey = new MemberModel("key", key, shapes, false);
        }

        if (json.TryGetProperty("value", out var value) && Type == ShapeType.Map)
        {
            MapValue = new MemberModel("value", value, shapes, false);
        }
    }

    public override string ToString() => $"{Name} ({Type})";
}

/// <summary>A member of a structure (or a list's member, a map's key or value) with its wire binding.</summary>
public sealed class MemberModel
{
    internal MemberModel(string name, JsonElement json, Dictionary<string, ShapeModel> shapes, bool required)
    {
        Name = name;
        Required = required;
        Shape = shapes[json.GetProperty("shape").GetString()!];
        string? Text(string n) => json.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        bool Flag(string n) => json.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.True;
        Location = Text("location");
        LocationName = Text("locationName");
        QueryName = Text("queryName");
        XmlNamespace = json.TryGetProperty("xmlNamespace", out var ns) && ns.TryGetProperty("uri", out var uri) ? uri.GetString() : null;
        XmlNamespacePrefix = json.TryGetProperty("xmlNamespace", out var ns2) && ns2.TryGetProperty("prefix", out var prefix) ? prefix.GetString() : null;
        Flattened = Flag("flattened");
        XmlAttribute = Flag("xmlAttribute");
        JsonValue = Flag("jsonvalue");
        TimestampFormat = Text("timestampFormat");
        IdempotencyToken = Flag("idempotencyToken");
        HostLabel = Flag("hostLabel");
        EventPayload = Flag("eventpayload");
        Streaming = Flag("streaming");
        Default = json.TryGetProperty("default", out var d) ? d.Clone() : null;
        PathName = name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];
    }

    public string Name { get; }

    /// <summary>The member name as AWS prints it in validation paths (first letter lowered).</summary>
    public string PathName { get; }

    public bool Required { get; }

    public ShapeModel Shape { get; }

    /// <summary>uri, querystring, header, headers, statusCode (REST protocols); null for the body.</summary>
    public string? Location { get; }

    public string? LocationName { get; }

    public string? QueryName { get; }

    public string? XmlNamespace { get; }

    public string? XmlNamespacePrefix { get; }

    public bool Flattened { get; }

    public bool XmlAttribute { get; }

    /// <summary>A header carrying base64 JSON (rest-json).</summary>
    public bool JsonValue { get; }

    public string? TimestampFormat { get; }

    public bool IdempotencyToken { get; }

    public bool HostLabel { get; }

    public bool EventPayload { get; }

    public bool Streaming { get; }

    public JsonElement? Default { get; }

    /// <summary>The name on the wire: locationName when the model sets one, else the member name.</summary>
    public string WireName => LocationName ?? Name;

    /// <summary>A list or map member is flattened when it or its shape says so.</summary>
    public bool IsFlattened => Flattened || Shape.Flattened;

    public override string ToString() => $"{Name}: {Shape.Name}";
}
