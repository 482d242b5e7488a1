using System.Text;
using System.Text.Json.Nodes;
using System.Xml;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// One AWS protocol for one service model: finds the operation a request names, parses the request into the input
/// document, and writes an output document or an error the way that protocol does. Implementations:
/// <c>json</c> (JSON 1.0/1.1 by X-Amz-Target, and Kinesis's CBOR 1.1 body), <c>rest-json</c>, <c>rest-xml</c>,
/// <c>query</c> and <c>smithy-rpc-v2-cbor</c>. Codecs are stateless and thread-safe.
/// </summary>
public abstract class ProtocolCodec(ServiceModel model)
{
    public const string Json = "json";
    public const string RestJson = "rest-json";
    public const string RestXml = "rest-xml";
    public const string Query = "query";
    public const string RpcV2Cbor = "smithy-rpc-v2-cbor";

    public ServiceModel Model { get; } = model;

    /// <summary>The botocore protocol name.</summary>
    public abstract string Protocol { get; }

    /// <summary>The header carrying the request id.</summary>
    public virtual string RequestIdHeader => "x-amzn-RequestId";

    public static ProtocolCodec Create(ServiceModel model, string protocol) => protocol switch
    {
        Json => new JsonProtocolCodec(model),
        RestJson => new RestJsonCodec(model),
        RestXml => new RestXmlCodec(model),
        Query => new QueryCodec(model),
        RpcV2Cbor => new RpcV2CborCodec(model),
        _ => throw new NotSupportedException($"Protocol '{protocol}' is not supported."),
    };

    /// <summary>
    /// The operation the request names, or null when it names none this model has (then <see cref="UnknownOperation"/>
    /// is the error to send). <paramref name="name"/> is what the request asked for, when it said.
    /// </summary>
    public abstract OperationModel? ResolveOperation(ProtocolRequest request, out string? name);

    /// <summary>Parses the request into the operation's input document (wire-level errors throw <see cref="ServiceException"/>).</summary>
    public abstract JsonObject ParseInput(OperationModel operation, ProtocolRequest request);

    public abstract ProtocolResponse WriteOutput(OperationModel operation, ProtocolRequest request, JsonObject? output, string requestId);

    public abstract ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId);

    /// <summary>This protocol's answer to an operation the model does not have.</summary>
    public virtual ServiceException UnknownOperation(string? name) => ServiceException.UnknownOperation();

    /// <summary>The error code of a constraint failure in this protocol.</summary>
    public virtual string ValidationErrorCode => "ValidationException";

    /// <summary>How an error is named on the wire: shape name, query code, status and fault side.</summary>
    protected internal ErrorInfo Describe(ServiceException error)
    {
        var shape = Model.FindError(error.Code);
        var code = shape?.Name ?? error.Code;
        var queryCode = shape?.ErrorCode ?? error.Code;
        var sender = error.SenderFault ?? shape?.SenderFault ?? !(error.Status >= 500);
        var status = error.Status ?? shape?.ErrorStatus ?? (sender ? 400 : 500);
        return new ErrorInfo(code, queryCode, status, sender, shape);
    }

    protected void AddQueryCompatible(ProtocolResponse response, ErrorInfo info)
    {
        if (Model.AwsQueryCompatible)
        {
            response.Headers["x-amzn-query-error"] = info.QueryCode + ";" + (info.Sender ? "Sender" : "Receiver");
        }
    }

    protected internal readonly record struct ErrorInfo(string Code, string QueryCode, int Status, bool Sender, ShapeModel? Shape);
}

/// <summary>JSON 1.0/1.1: <c>POST /</c> with <c>X-Amz-Target: Prefix.Operation</c>; errors are <c>{"__type","message"}</c>.</summary>
public sealed class JsonProtocolCodec(ServiceModel model) : ProtocolCodec(model)
{
    public override string Protocol => Json;

    public string ContentType => "application/x-amz-json-" + Model.JsonVersion;

    public override OperationModel? ResolveOperation(ProtocolRequest request, out string? name)
    {
        var target = request.Header("X-Amz-Target") ?? "";
        var dot = target.LastIndexOf('.');
        name = dot < 0 ? null : target[(dot + 1)..];
        if (dot < 0 || !target.AsSpan(0, dot).SequenceEqual(Model.TargetPrefix))
        {
            return null;
        }

        return Model.Operations.GetValueOrDefault(name!);
    }

    internal static bool IsCbor(ProtocolRequest request) => request.ContentType.Contains("cbor", StringComparison.OrdinalIgnoreCase);

    /// <summary>A response whose JSON body an operation's fast path already wrote.</summary>
    public ProtocolResponse WriteJsonOutput(byte[] body, string requestId)
    {
        var response = new ProtocolResponse { ContentType = ContentType, Body = body };
        response.Headers[RequestIdHeader] = requestId;
        return response;
    }

    public override JsonObject ParseInput(OperationModel operation, ProtocolRequest request) =>
        IsCbor(request) ? CborBody.ReadStructure(operation.Input, request.Body, millisecondTimestamps: true) : JsonBody.ReadStructure(operation.Input, request.Body);

    public override ProtocolResponse WriteOutput(OperationModel operation, ProtocolRequest request, JsonObject? output, string requestId)
    {
        var response = new ProtocolResponse();
        response.Headers[RequestIdHeader] = requestId;
        if (IsCbor(request))
        {
            response.ContentType = KinesisCbor.ContentType;
            response.Body = CborBody.WriteStructure(operation.Output, output, millisecondTimestamps: true);
        }
        else
        {
            response.ContentType = ContentType;
            response.Body = JsonBody.WriteStructure(operation.Output, output);
        }

        return response;
    }

    public override ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId)
    {
        var info = Describe(error);
        var response = new ProtocolResponse { Status = info.Status };
        response.Headers[RequestIdHeader] = requestId;
        AddQueryCompatible(response, info);
        if (IsCbor(request))
        {
            response.ContentType = KinesisCbor.ContentType;
            response.Body = CborBody.WriteError(info.Code, error.ErrorMessage, error.Fields);
            return response;
        }

        response.ContentType = ContentType;
        response.Body = ErrorJson(info.Code, error, "__type");
        return response;
    }

    internal static byte[] ErrorJson(string code, ServiceException error, string? typeKey, string? faultType = null)
    {
        var obj = new JsonObject();
        if (typeKey is not null)
        {
            obj[typeKey] = code;
        }

        if (faultType is not null)
        {
            obj["Type"] = faultType;
        }

        if (error.ErrorMessage is not null)
        {
            obj["message"] = error.ErrorMessage;
        }

        if (error.Fields is not null)
        {
            foreach (var (k, v) in error.Fields)
            {
                obj[k] = v?.DeepClone();
            }
        }

        return Encoding.UTF8.GetBytes(obj.ToJsonString(JsonBody.SerializerOptions));
    }
}

/// <summary>smithy rpc-v2-cbor: <c>POST /service/&lt;name&gt;/operation/&lt;op&gt;</c> with <c>smithy-protocol: rpc-v2-cbor</c>; CBOR bodies.</summary>
public sealed class RpcV2CborCodec(ServiceModel model) : ProtocolCodec(model)
{
    public const string ContentType = "application/cbor";

    public override string Protocol => RpcV2Cbor;

    /// <summary>The service name in the path: the model's target prefix (botocore's choice), e.g. GraniteServiceVersion20100801.</summary>
    public string ServiceName => Model.TargetPrefix ?? Model.ServiceId.Replace(" ", "", StringComparison.Ordinal);

    public override OperationModel? ResolveOperation(ProtocolRequest request, out string? name)
    {
        name = null;
        var parts = request.Path.Split('/');
        // "", "service", name, "operation", op
        if (parts.Length != 5 || parts[1] != "service" || parts[3] != "operation")
        {
            return null;
        }

        name = parts[4];
        return parts[2] == ServiceName ? Model.Operations.GetValueOrDefault(name) : null;
    }

    public override JsonObject ParseInput(OperationModel operation, ProtocolRequest request) => CborBody.ReadStructure(operation.Input, request.Body);

    public override ProtocolResponse WriteOutput(OperationModel operation, ProtocolRequest request, JsonObject? output, string requestId)
    {
        var response = new ProtocolResponse { ContentType = ContentType };
        response.Headers["smithy-protocol"] = "rpc-v2-cbor";
        response.Headers[RequestIdHeader] = requestId;
        response.Body = CborBody.WriteStructure(operation.Output, output);
        return response;
    }

    public override ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId)
    {
        var info = Describe(error);
        var response = new ProtocolResponse { Status = info.Status, ContentType = ContentType };
        response.Headers["smithy-protocol"] = "rpc-v2-cbor";
        response.Headers[RequestIdHeader] = requestId;
        AddQueryCompatible(response, info);
        response.Body = CborBody.WriteError(info.Code, error.ErrorMessage, error.Fields);
        return response;
    }
}

/// <summary>
/// The query protocol (STS, IAM, CloudWatch, SQS's old one): form-encoded POST (or GET) with <c>Action</c> and
/// <c>Version</c>; XML responses <c>&lt;OpResponse&gt;&lt;OpResult&gt;...&lt;/OpResult&gt;&lt;ResponseMetadata/&gt;&lt;/OpResponse&gt;</c> and
/// <c>&lt;ErrorResponse&gt;</c> errors.
/// </summary>
public sealed class QueryCodec(ServiceModel model) : ProtocolCodec(model)
{
    public override string Protocol => Query;

    public override string ValidationErrorCode => "ValidationError";

    public static bool IsForm(ProtocolRequest request) =>
        request.ContentType.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);

    public static IReadOnlyList<KeyValuePair<string, string>> Parameters(ProtocolRequest request)
    {
        if (!IsForm(request))
        {
            return request.Query;
        }

        var form = ProtocolRequest.ParseQuery(Encoding.UTF8.GetString(request.Body.Span));
        return request.Query.Count == 0 ? form : [.. request.Query, .. form];
    }

    public override OperationModel? ResolveOperation(ProtocolRequest request, out string? name)
    {
        name = Parameters(request).FirstOrDefault(p => p.Key == "Action").Value;
        return name is null ? null : Model.Operations.GetValueOrDefault(name);
    }

    public override ServiceException UnknownOperation(string? name) => name is null
        ? new ServiceException("MissingAction", "Missing Action")
        : new ServiceException("InvalidAction", $"Could not find operation {name} for version {Model.ApiVersion}");

    public override JsonObject ParseInput(OperationModel operation, ProtocolRequest request) => QueryForm.Read(operation.Input, Parameters(request));

    public override ProtocolResponse WriteOutput(OperationModel operation, ProtocolRequest request, JsonObject? output, string requestId)
    {
        using var stream = new MemoryStream();
        using (var writer = XmlBody.CreateWriter(stream, declaration: false))
        {
            writer.WriteStartElement(operation.Name + "Response", Model.XmlNamespace ?? "");
            if (operation.Output is { } shape)
            {
                writer.WriteStartElement(operation.ResultWrapper ?? operation.Name + "Result");
                XmlBody.WriteMembers(writer, shape, output ?? []);
                writer.WriteEndElement();
            }

            writer.WriteStartElement("ResponseMetadata");
            writer.WriteElementString("RequestId", requestId);
            writer.WriteEndElement();
            writer.WriteEndElement();
        }

        var response = new ProtocolResponse { ContentType = "text/xml", Body = stream.ToArray() };
        response.Headers[RequestIdHeader] = requestId;
        return response;
    }

    public override ProtocolResponse WriteError(OperationModel? operation, ProtocolRequest request, ServiceException error, string requestId)
    {
        var info = Describe(error);
        using var stream = new MemoryStream();
        using (var writer = XmlBody.CreateWriter(stream, declaration: false))
        {
            writer.WriteStartElement("ErrorResponse", Model.XmlNamespace ?? "");
            writer.WriteStartElement("Error");
            writer.WriteElementString("Type", info.Sender ? "Sender" : "Receiver");
            writer.WriteElementString("Code", info.QueryCode);
            if (error.ErrorMessage is not null)
            {
                writer.WriteElementString("Message", error.ErrorMessage);
            }

            WriteFields(writer, info.Shape, error.Fields);
            writer.WriteEndElement();
            writer.WriteElementString("RequestId", requestId);
            writer.WriteEndElement();
        }

        var response = new ProtocolResponse { Status = info.Status, ContentType = "text/xml", Body = stream.ToArray() };
        response.Headers[RequestIdHeader] = requestId;
        return response;
    }

    internal static void WriteFields(XmlWriter writer, ShapeModel? shape, JsonObject? fields)
    {
        if (fields is null)
        {
            return;
        }

        foreach (var (k, v) in fields)
        {
            if (v is null || k is "Message" or "message" or "Code")
            {
                continue;
            }

            if (shape?.FindMember(k) is { } member)
            {
                XmlBody.WriteMembers(writer, shape, new JsonObject { [k] = v.DeepClone() }, m => m.Name == k);
            }
            else
            {
                writer.WriteElementString(k, ModelDocument.GetString(v) ?? "");
            }
        }
    }
}
