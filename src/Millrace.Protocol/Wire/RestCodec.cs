using System.Text;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// What rest-json and rest-xml share: the operation is found by method and request URI template, members are
/// bound to URI labels (<c>{Name}</c>, greedy <c>{Key+}</c>), the query string, headers, header-prefix maps
/// (<c>x-amz-meta-</c>), the status code, or the payload; the rest of the body is the protocol's document format.
/// </summary>
public abstract class RestCodec(ServiceModel model) : ProtocolCodec(model)
{
    protected static bool IsBodyMember(MemberModel member) => member.Location is null;

    public override OperationModel? ResolveOperation(ProtocolRequest request, out string? name)
    {
        name = null;
        OperationModel? best = null;
        var bestScore = -1;
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var op in Model.Operations.Values)
        {
            if (!string.Equals(op.HttpMethod, request.Method, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var score = op.Template.Match(request.Path, request.Query, labels);
            if (score >= 0 && op.Input is { } input)
            {
                // Operations sharing a URI (PutObject, CopyObject, UploadPart) differ by required headers and query parameters.
                foreach (var member in input.Members)
                {
                    var present = member.Location switch
                    {
                        "header" => request.Header(member.WireName) is not null,
                        "querystring" when member.Shape.Type != ShapeType.Map => request.Query.Any(q => q.Key == member.WireName),
                        _ => (bool?)null,
                    };
                    if (present == true)
                    {
                        score += 2;
                    }
                    else if (present == false && member.Required)
                    {
                        score = -1;
                        break;
                    }
                }
            }

            if (score > bestScore)
            {
                best = op;
                bestScore = score;
            }
        }

        name = best?.Name;
        return best;
    }

    public override ServiceException UnknownOperation(string? name) => new("UnknownOperationException", null, 404);

    /// <summary>Reads the body members (no payload member) from the body.</summary>
    protected abstract JsonObject ReadBody(ShapeModel input, OperationModel operation, ReadOnlyMemory<byte> body);

    /// <summary>Reads a structure payload member.</summary>
    protected abstract JsonObject ReadPayload(MemberModel payload, OperationModel operation, ReadOnlyMemory<byte> body);

    protected abstract byte[] WriteBody(ShapeModel output, JsonObject document);

    protected abstract byte[] WritePayload(MemberModel payload, JsonObject document);

    protected abstract string DocumentContentType { get; }

    public override JsonObject ParseInput(OperationModel operation, ProtocolRequest request)
    {
        var input = operation.Input;
        if (input is null)
        {
            return [];
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        operation.Template.Match(request.Path, request.Query, labels);
        var result = new JsonObject();
        var boundQuery = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in input.Members)
        {
            if (member.Location == "querystring" && member.Shape.Type != ShapeType.Map)
            {
                boundQuery.Add(member.WireName);
            }
        }

        foreach (var (key, _) in operation.Template.Query)
        {
            boundQuery.Add(key);
        }

        foreach (var member in input.Members)
        {
            var value = member.Location switch
            {
                "uri" => labels.TryGetValue(member.WireName, out var label) ? Scalar(member, label, Timestamps.Iso8601) : null,
                "querystring" => ReadQuery(member, request, boundQuery),
                "header" => request.Header(member.WireName) is { } header ? ReadHeader(member, header) : null,
                "headers" => ReadPrefixHeaders(member, request),
                _ => null,
            };
            if (value is not null)
            {
                result[member.Name] = value;
            }
        }

        if (input.Payload is { } payloadName && input.FindMember(payloadName) is { } payload)
        {
            if (payload.Shape.Type is ShapeType.Blob)
            {
                result[payload.Name] = JsonValue.Create(request.Body.ToArray());
            }
            else if (payload.Shape.Type is ShapeType.String)
            {
                if (!request.Body.IsEmpty)
                {
                    result[payload.Name] = Encoding.UTF8.GetString(request.Body.Span);
                }
            }
            else if (!request.Body.IsEmpty)
            {
                result[payload.Name] = ReadPayload(payload, operation, request.Body);
            }
        }
        else if (input.Members.Any(IsBodyMember) && !request.Body.IsEmpty)
        {
            foreach (var (k, v) in ReadBody(input, operation, request.Body).ToList())
            {
                result[k] = v?.DeepClone();
            }
        }

        return result;
    }

    private static JsonNode Scalar(MemberModel member, string text, string defaultTimestamp) =>
        ModelDocument.ScalarFromText(member.Shape, text, member.TimestampFormat, defaultTimestamp);

    private static JsonNode? ReadQuery(MemberModel member, ProtocolRequest request, HashSet<string> bound)
    {
        var shape = member.Shape;
        if (shape.Type == ShapeType.Map)
        {
            var map = new JsonObject();
            foreach (var (k, v) in request.Query)
            {
                if (bound.Contains(k))
                {
                    continue;
                }

                if (shape.MapValue!.Shape.Type == ShapeType.List)
                {
                    if (map[k] is not JsonArray list)
                    {
                        map[k] = list = [];
                    }

                    list.Add(v);
                }
                else
                {
                    map[k] = v;
                }
            }

            return map.Count == 0 ? null : map;
        }

        if (shape.Type == ShapeType.List)
        {
            var values = request.Query.Where(q => q.Key == member.WireName).Select(q => Scalar(shape.ListMember!, q.Value, Timestamps.Iso8601)).ToArray();
            return values.Length == 0 ? null : new JsonArray(values);
        }

        foreach (var (k, v) in request.Query)
        {
            if (k == member.WireName)
            {
                return Scalar(member, v, Timestamps.Iso8601);
            }
        }

        return null;
    }

    private static JsonNode? ReadHeader(MemberModel member, string header)
    {
        if (member.JsonValue)
        {
            try
            {
                return JsonNode.Parse(Convert.FromBase64String(header.Trim()), documentOptions: JsonText.StrictDocument);
            }
            catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException)
            {
                throw ServiceException.Serialization($"Header {member.WireName} is not base64-encoded JSON");
            }
        }

        if (member.Shape.Type == ShapeType.List)
        {
            return new JsonArray([.. SplitHeaderList(header).Select(v => Scalar(member.Shape.ListMember!, v, Timestamps.Rfc822))]);
        }

        return Scalar(member, header, Timestamps.Rfc822);
    }

    private static IEnumerable<string> SplitHeaderList(string header)
    {
        // Comma-separated; a quoted item may contain commas.
        var sb = new StringBuilder();
        var quoted = false;
        foreach (var c in header)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                yield return sb.ToString().Trim();
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        if (sb.Length > 0)
        {
            yield return sb.ToString().Trim();
        }
    }

    private static JsonObject? ReadPrefixHeaders(MemberModel member, ProtocolRequest request)
    {
        var prefix = member.LocationName ?? "";
        var map = new JsonObject();
        foreach (var (k, v) in request.Headers)
        {
            if (k.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                map[k[prefix.Length..].ToLowerInvariant()] = v;
            }
        }

        return map.Count == 0 ? null : map;
    }

    public override ProtocolResponse WriteOutput(OperationModel operation, ProtocolRequest request, JsonObject? output, string requestId)
    {
        var response = new ProtocolResponse { Status = operation.ResponseCode };
        response.Headers[RequestIdHeader] = requestId;
        var shape = operation.Output;
        output ??= [];
        if (shape is null)
        {
            return response;
        }

        foreach (var member in shape.Members)
        {
            if (output[member.Name] is not { } value)
            {
                continue;
            }

            switch (member.Location)
            {
                case "header":
                    response.Headers[member.WireName] = HeaderText(member, value);
                    break;
                case "headers" when value is JsonObject map:
                    foreach (var (k, v) in map)
                    {
                        if (v is not null)
                        {
                            response.Headers[(member.LocationName ?? "") + k] = ModelDocument.GetString(v) ?? "";
                        }
                    }

                    break;
                case "statusCode":
                    response.Status = (int)(ModelDocument.GetInt64(value) ?? 200);
                    break;
            }
        }

        if (shape.Payload is { } payloadName && shape.FindMember(payloadName) is { } payload)
        {
            var value = output[payload.Name];
            switch (payload.Shape.Type)
            {
                case ShapeType.Blob:
                    response.Body = value is null ? [] : ModelDocument.GetBytes(value) ?? [];
                    if (!response.Headers.ContainsKey("Content-Type"))
                    {
                        response.ContentType = "application/octet-stream";
                    }

                    break;
                case ShapeType.String:
                    response.Body = value is null ? [] : Encoding.UTF8.GetBytes(ModelDocument.GetString(value) ?? "");
                    if (!response.Headers.ContainsKey("Content-Type"))
                    {
                        response.ContentType = "text/plain";
                    }

                    break;
                default:
                    if (value is JsonObject obj)
                    {
                        response.Body = WritePayload(payload, obj);
                        response.ContentType ??= DocumentContentType;
                    }

                    break;
            }

            return response;
        }

        if (shape.Members.Any(IsBodyMember) || this is RestJsonCodec)
        {
            response.Body = WriteBody(shape, output);
            response.ContentType ??= DocumentContentType;
        }

        return response;
    }

    private static string HeaderText(MemberModel member, JsonNode value)
    {
        if (member.JsonValue)
        {
            return Convert.ToBase64String(Encoding.UTF8.GetBytes(value.ToJsonString()));
        }

        if (member.Shape.Type == ShapeType.List && value is JsonArray list)
        {
            return string.Join(",", list.Where(i => i is not null).Select(i => ModelDocument.ScalarToText(member.Shape.ListMember!.Shape, i!, member.Shape.ListMember.TimestampFormat, Timestamps.Rfc822)));
        }

        return ModelDocument.ScalarToText(member.Shape, value, member.TimestampFormat, Timestamps.Rfc822);
    }
}

/// <summary>rest-json (Lambda, ...): JSON bodies; errors carry <c>x-amzn-ErrorType</c> and <c>{"Type","message"}</c>.</summary>
public sealed class RestJsonCodec(ServiceModel model) : RestCodec(model)
{
    public override string Protocol => RestJson;

    protected override string DocumentContentType => "application/json";

    protected override JsonObject ReadBody(ShapeModel input, OperationModel operation, ReadOnlyMemory<byte> body) =>
        JsonBody.ReadStructure(input, body, IsBodyMember);

    protected override JsonObject ReadPayload(MemberModel payload, OperationModel operation, ReadOnlyMemory<byte> body) =>
        JsonBody.ReadStructure(payload.Shape, body);

    protected override byte[] WriteBody(ShapeModel output, JsonObject document) => JsonBody.WriteStructure(output, document, IsBodyMember);

    protected override byte[] WritePayload(MemberModel payload, JsonObject document) => JsonBody.WriteStructure(payload.Shape, document);

    public override ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId)
    {
        var info = Describe(error);
        var response = new ProtocolResponse { Status = info.Status, ContentType = "application/json" };
        response.Headers[RequestIdHeader] = requestId;
        response.Headers["x-amzn-ErrorType"] = info.Code;
        AddQueryCompatible(response, info);
        response.Body = JsonProtocolCodec.ErrorJson(info.Code, error, typeKey: null, faultType: info.Sender ? "User" : "Service");
        return response;
    }
}

/// <summary>rest-xml (S3, ...): XML bodies by locationName/xmlNamespace/flattened; errors are <c>&lt;Error&gt;&lt;Code&gt;</c>.</summary>
public sealed class RestXmlCodec(ServiceModel model) : RestCodec(model)
{
    public override string Protocol => RestXml;

    public override string RequestIdHeader => "x-amz-request-id";

    protected override string DocumentContentType => "application/xml";

    public override ServiceException UnknownOperation(string? name) => new("MethodNotAllowed", "The specified method is not allowed against this resource.", 405);

    protected override JsonObject ReadBody(ShapeModel input, OperationModel operation, ReadOnlyMemory<byte> body) =>
        XmlBody.Parse(body) is { } root ? XmlBody.ReadStructure(input, root, IsBodyMember) : [];

    protected override JsonObject ReadPayload(MemberModel payload, OperationModel operation, ReadOnlyMemory<byte> body) =>
        XmlBody.Parse(body) is { } root ? XmlBody.ReadStructure(payload.Shape, root) : [];

    protected override byte[] WriteBody(ShapeModel output, JsonObject document) =>
        WriteRoot(output.LocationName ?? output.Name, output.XmlNamespace ?? Model.XmlNamespace, output, document, IsBodyMember);

    protected override byte[] WritePayload(MemberModel payload, JsonObject document) =>
        WriteRoot(payload.LocationName ?? payload.Shape.LocationName ?? payload.Name, payload.XmlNamespace ?? payload.Shape.XmlNamespace ?? Model.XmlNamespace, payload.Shape, document, null);

    private static byte[] WriteRoot(string name, string? ns, ShapeModel shape, JsonObject document, Func<MemberModel, bool>? filter)
    {
        using var stream = new MemoryStream();
        using (var writer = XmlBody.CreateWriter(stream))
        {
            writer.WriteStartElement(name, ns ?? "");
            XmlBody.WriteMembers(writer, shape, document, filter);
            writer.WriteEndElement();
        }

        return stream.ToArray();
    }

    public override ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId)
    {
        var info = Describe(error);
        using var stream = new MemoryStream();
        using (var writer = XmlBody.CreateWriter(stream))
        {
            writer.WriteStartElement("Error");
            writer.WriteElementString("Code", info.QueryCode);
            writer.WriteElementString("Message", error.ErrorMessage ?? "");
            QueryCodec.WriteFields(writer, info.Shape, error.Fields);
            writer.WriteElementString("RequestId", requestId);
            writer.WriteEndElement();
        }

        var response = new ProtocolResponse { Status = info.Status, ContentType = "application/xml", Body = stream.ToArray() };
        response.Headers[RequestIdHeader] = requestId;
        return response;
    }
}
