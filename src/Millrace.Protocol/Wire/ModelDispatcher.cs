using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>An operation handler: the validated input document in, the output document (or null) out.</summary>
public delegate Task<JsonObject?> OperationHandler(JsonObject input, OperationContext context);

/// <summary>
/// A hot JSON operation that reads its request body and writes its whole response itself, because building and
/// validating the generic document would cost more than the operation. It answers false, having written nothing, for
/// any input it does not recognise as plainly valid; the generic path (validation, AWS's messages) then runs.
/// </summary>
public delegate ValueTask<bool> JsonFastHandler(ReadOnlyMemory<byte> body, System.Buffers.IBufferWriter<byte> output, OperationContext context);

/// <summary>What a handler knows about the call besides its input.</summary>
public sealed class OperationContext
{
    public required ServiceModel Service { get; init; }

    public required OperationModel Operation { get; init; }

    /// <summary>The protocol the request came in (json, query, smithy-rpc-v2-cbor, ...).</summary>
    public required string Protocol { get; init; }

    public required ProtocolRequest Request { get; init; }

    public required string RequestId { get; init; }

    public CancellationToken Cancellation { get; init; }

    /// <summary>Headers to add to the response (e.g. ETag), whatever the protocol.</summary>
    public Dictionary<string, string> ResponseHeaders { get; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Options of a model-driven service.</summary>
public sealed class ModelServiceOptions
{
    /// <summary>Check the model's constraints before calling handlers (default true).</summary>
    public bool Validate { get; init; } = true;

    /// <summary>
    /// The error code of a constraint failure; null takes the protocol's (<c>ValidationException</c>, or
    /// <c>ValidationError</c> for query). Kinesis-style services may choose e.g. <c>InvalidArgumentException</c>.
    /// </summary>
    public string? ValidationErrorCode { get; init; }

    /// <summary>Fills idempotency-token members a client left out with a fresh UUID (default true).</summary>
    public bool FillIdempotencyTokens { get; init; } = true;

    /// <summary>
    /// Request bodies are read into pooled buffers returned once the response is sent (default false). Only for
    /// services whose handlers never keep a reference to the body after they answer: data planes of megabyte bodies
    /// then allocate no large arrays per request.
    /// </summary>
    public bool PooledRequestBodies { get; init; }

    /// <summary>Makes request ids (default: a random UUID).</summary>
    public Func<string> RequestIds { get; init; } = () => Guid.NewGuid().ToString();

    /// <summary>Called with exceptions that are not <see cref="ServiceException"/> (they become InternalFailure).</summary>
    public Action<OperationModel?, Exception>? OnUnhandledException { get; init; }
}

/// <summary>
/// The protocol-neutral core of a model-driven service: picks the protocol of a request among the model's
/// protocols, finds the operation, parses and validates the input, calls the handler and writes its output or error
/// in the same protocol. Operations without a handler answer the protocol's unknown-operation error.
/// </summary>
public sealed class ModelDispatcher
{
    private readonly Dictionary<string, OperationHandler> _handlers;
    private readonly Dictionary<string, JsonFastHandler> _fastHandlers = new(StringComparer.Ordinal);

    public ModelDispatcher(ServiceModel model, IReadOnlyDictionary<string, OperationHandler> handlers, ModelServiceOptions? options = null)
    {
        Model = model;
        Options = options ?? new ModelServiceOptions();
        foreach (var name in handlers.Keys)
        {
            if (!model.Operations.ContainsKey(name))
            {
                throw new ArgumentException($"{model.ServiceId} has no operation '{name}'.", nameof(handlers));
            }
        }

        _handlers = new Dictionary<string, OperationHandler>(handlers, StringComparer.Ordinal);
        Codecs = [.. model.Protocols.Where(p => p is ProtocolCodec.Json or ProtocolCodec.RestJson or ProtocolCodec.RestXml or ProtocolCodec.Query or ProtocolCodec.RpcV2Cbor)
            .Select(p => ProtocolCodec.Create(model, p))];
        if (Codecs.Count == 0)
        {
            throw new NotSupportedException($"{model.ServiceId} speaks none of the supported protocols ({string.Join(", ", model.Protocols)}).");
        }
    }

    public ServiceModel Model { get; }

    public ModelServiceOptions Options { get; }

    /// <summary>The model's protocols, default first.</summary>
    public IReadOnlyList<ProtocolCodec> Codecs { get; }

    public IEnumerable<string> HandledOperations => _handlers.Keys;

    /// <summary>Adds or replaces an operation's handler; do it before serving requests (not thread-safe with dispatch).</summary>
    public void Register(string operation, OperationHandler handler)
    {
        if (!Model.Operations.ContainsKey(operation))
        {
            throw new ArgumentException($"{Model.ServiceId} has no operation '{operation}'.", nameof(operation));
        }

        _handlers[operation] = handler;
    }

    /// <summary>Adds a fast path for a JSON (not CBOR) request of an operation that also has a generic handler; before serving.</summary>
    public void RegisterJsonFastPath(string operation, JsonFastHandler handler)
    {
        if (!_handlers.ContainsKey(operation))
        {
            throw new ArgumentException($"{operation} needs a generic handler before a fast path.", nameof(operation));
        }

        _fastHandlers[operation] = handler;
    }

    /// <summary>The codec for a request: X-Amz-Target means JSON, smithy-protocol means rpc-v2-cbor, a form or an Action means query, else the REST protocol or the default.</summary>
    public ProtocolCodec PickCodec(ProtocolRequest request)
    {
        ProtocolCodec? Find(string protocol) => Codecs.FirstOrDefault(c => c.Protocol == protocol);
        if (request.Header("X-Amz-Target") is not null && Find(ProtocolCodec.Json) is { } json)
        {
            return json;
        }

        if (request.Header("smithy-protocol") is not null && Find(ProtocolCodec.RpcV2Cbor) is { } cbor)
        {
            return cbor;
        }

        if (Find(ProtocolCodec.Query) is { } query && (QueryCodec.IsForm(request) || request.Query.Any(q => q.Key == "Action")))
        {
            return query;
        }

        return Find(ProtocolCodec.RestJson) ?? Find(ProtocolCodec.RestXml) ?? Codecs[0];
    }

    public async Task<ProtocolResponse> DispatchAsync(ProtocolRequest request, CancellationToken cancellation = default)
    {
        var codec = PickCodec(request);
        var requestId = Options.RequestIds();
        OperationModel? operation = null;
        try
        {
            operation = codec.ResolveOperation(request, out var name);
            if (operation is null || !_handlers.TryGetValue(operation.Name, out var handler))
            {
                return codec.WriteError(operation, request, codec.UnknownOperation(name), requestId);
            }

            if (_fastHandlers.Count > 0 && codec is JsonProtocolCodec json && !JsonProtocolCodec.IsCbor(request)
                && _fastHandlers.TryGetValue(operation.Name, out var fast))
            {
                var fastContext = new OperationContext
                {
                    Service = Model, Operation = operation, Protocol = codec.Protocol, Request = request, RequestId = requestId, Cancellation = cancellation,
                };
                var written = new System.Buffers.ArrayBufferWriter<byte>(4096);
                if (await fast(request.Body, written, fastContext).ConfigureAwait(false))
                {
                    return json.WriteJsonOutput(written.WrittenSpan.ToArray(), requestId);
                }
            }

            var input = codec.ParseInput(operation, request);
            if (Options.FillIdempotencyTokens && operation.Input is { } inputShape)
            {
                foreach (var member in inputShape.Members)
                {
                    if (member.IdempotencyToken && input[member.Name] is null)
                    {
                        input[member.Name] = Guid.NewGuid().ToString();
                    }
                }
            }

            if (Options.Validate && ConstraintValidator.Validate(Model, operation.Input, input) is { } message)
            {
                return codec.WriteError(operation, request, new ServiceException(Options.ValidationErrorCode ?? codec.ValidationErrorCode, message), requestId);
            }

            var context = new OperationContext
            {
                Service = Model,
                Operation = operation,
                Protocol = codec.Protocol,
                Request = request,
                RequestId = requestId,
                Cancellation = cancellation,
            };
            var output = await handler(input, context).ConfigureAwait(false);
            var response = codec.WriteOutput(operation, request, output, requestId);
            foreach (var (k, v) in context.ResponseHeaders)
            {
                response.Headers[k] = v;
            }

            return response;
        }
        catch (ServiceException error)
        {
            return codec.WriteError(operation, request, error, requestId);
        }
        catch (KinesisException error)
        {
            return codec.WriteError(operation, request, new ServiceException(error.ErrorType, error.ErrorMessage, error.StatusCode), requestId);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (JsonText.IsUndecodableString(ex))
        {
            return codec.WriteError(operation, request, ServiceException.Serialization(JsonText.UndecodableString), requestId);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Options.OnUnhandledException?.Invoke(operation, ex);
            return codec.WriteError(operation, request, ServiceException.InternalFailure(), requestId);
        }
    }

    /// <summary>An AWS-style hex request id, for services that prefer one to a UUID.</summary>
    public static string HexRequestId() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
}
