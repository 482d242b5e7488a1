using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Millrace.Agent;
using Millrace.Agent.Processing;
using Millrace.DynamoDb;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;
using Millrace.Gateway;
using Millrace.Gateway.Authentication;
using Millrace.Iam.Policies;
using Millrace.Protocol;
using Millrace.Protocol.Auth;
using Millrace.Protocol.EventStream;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;
using Millrace.S3;

namespace Millrace.Fuzz;

/// <summary>
/// One entry point per parser that takes bytes from the network or from files. Each runs one input and lets through
/// only the errors the parser documents (AWS's error for the input); anything else (another exception type, a 500
/// answer) propagates, which AFL records as a crash. State the targets share is created on first use (Lazy): code
/// of the instrumented assemblies may only run once afl-fuzz's coverage map is set up, inside Fuzzer.Run.
/// </summary>
public static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["json-request"] = JsonRequest,
        ["cbor-request"] = CborRequest,
        ["event-stream"] = EventStream,
        ["sigv4-parse"] = SigV4Parse,
        ["sigv4-verify"] = SigV4Verify,
        ["s3-xml"] = S3XmlBodies,
        ["aws-chunked"] = AwsChunked,
        ["dynamodb-expression"] = DynamoDbExpression,
        ["iam-policy"] = IamPolicy,
        ["agent-json"] = AgentJson,
        ["agent-records"] = AgentRecords,
    };

    private static readonly Lazy<string[]> KinesisOperations = new(() => [.. ServiceModel.Get("kinesis").Operations.Keys.Order(StringComparer.Ordinal)]);
    private static readonly Lazy<ModelDispatcher[]> Dispatchers = new(() =>
        [.. new[] { "kinesis", "firehose", "logs", "glue", "iam" }.Select(m => new ModelDispatcher(ServiceModel.Get(m), new Dictionary<string, OperationHandler>()))]);

    /// <summary>A model service's whole request path (protocol pick, parsing, validation): the first byte picks the
    /// service and operation, the rest is the body. Anything answered 5xx is a failure.</summary>
    private static void JsonRequest(byte[] input)
    {
        if (input.Length < 2)
        {
            return;
        }

        var dispatcher = Dispatchers.Value[input[0] % Dispatchers.Value.Length];
        var operations = dispatcher.Model.Operations.Keys.Order(StringComparer.Ordinal).ToArray();
        var operation = operations[input[1] % operations.Length];
        var query = dispatcher.Model.Protocols.All(p => p == ProtocolCodec.Query);
        var request = new ProtocolRequest
        {
            Method = "POST",
            Path = "/",
            Headers = query
                ? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["Content-Type"] = "application/x-www-form-urlencoded" }
                : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
                {
                    ["Content-Type"] = "application/x-amz-json-1.1",
                    ["X-Amz-Target"] = $"{dispatcher.Model.TargetPrefix}.{operation}",
                },
            Body = query ? Encoding.UTF8.GetBytes($"Action={operation}&Version={dispatcher.Model.ApiVersion}&").Concat(input[2..]).ToArray() : input.AsMemory(2),
        };
        var response = dispatcher.DispatchAsync(request).GetAwaiter().GetResult();
        if (response.Status >= 500)
        {
            throw new InvalidOperationException($"{operation} answered {response.Status}: {Encoding.UTF8.GetString(response.Body)}");
        }
    }

    /// <summary>Kinesis's CBOR front door: CBOR to JSON by the operation's input shape, then Kinesis's validator.</summary>
    private static void CborRequest(byte[] input)
    {
        if (input.Length < 1)
        {
            return;
        }

        var operation = KinesisOperations.Value[input[0] % KinesisOperations.Value.Length];
        var json = new ArrayBufferWriter<byte>();
        try
        {
            KinesisCbor.ToJson(input.AsMemory(1), ModelValidator.Kinesis.GetInputShape(operation), json);
            using var document = System.Text.Json.JsonDocument.Parse(json.WrittenMemory);
            _ = ModelValidator.Kinesis.Validate(operation, document.RootElement);
        }
        catch (KinesisException)
        {
        }
        catch (System.Text.Json.JsonException)
        {
            // The endpoint answers SerializationException for a body that is not a JSON object once translated.
        }
    }

    private static void EventStream(byte[] input)
    {
        ReadOnlySpan<byte> rest = input;
        try
        {
            while (EventStreamCodec.TryDecode(rest, out _, out var consumed) && consumed > 0)
            {
                rest = rest[consumed..];
            }
        }
        catch (EventStreamFormatException)
        {
        }
    }

    /// <summary>The Authorization header and presigned query parser: line 1 the header, line 2 a query string, line 3 a date.</summary>
    private static void SigV4Parse(byte[] input)
    {
        var lines = Encoding.UTF8.GetString(input).Split('\n');
        var query = ProtocolRequest.ParseQuery(lines.ElementAtOrDefault(1));
        try
        {
            SigV4Authorization.Parse(lines[0].Length > 0 ? lines[0] : null, name => query.FirstOrDefault(q => q.Key == name).Value,
                lines.ElementAtOrDefault(2), lines.ElementAtOrDefault(3));
        }
        catch (KinesisException)
        {
        }
    }

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2015, 8, 30, 12, 36, 0, TimeSpan.Zero);
    }

    private sealed class SuiteKey : IAccessKeys
    {
        public ValueTask<SigningKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<SigningKey?>(new SigningKey(accessKeyId, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                new CallerIdentity(PrincipalKind.Root, "000000000000", "arn:aws:iam::000000000000:root", "000000000000", accessKeyId, "")));
    }

    private sealed class Service(AuthErrorStyle style) : IAwsService
    {
        public string Name => "service";

        public ServiceRoutes Routes { get; } = new() { AuthErrors = style };

        public Task HandleAsync(HttpContext http) => Task.CompletedTask;

        public Task WriteErrorAsync(HttpContext http, ServiceException error) => Task.CompletedTask;
    }

    private static readonly Lazy<RequestAuthenticator> Authenticator = new(() => new(new SuiteKey(), new FixedClock()));
    private static readonly Lazy<Service[]> Styles = new(() => [new(AuthErrorStyle.AwsJson), new(AuthErrorStyle.S3), new(AuthErrorStyle.Query)]);

    /// <summary>The whole verifier on a request read as text: "METHOD target", header lines, a blank line, the body.
    /// It answers null or an AWS error; it must never throw.</summary>
    private static void SigV4Verify(byte[] input)
    {
        if (input.Length < 1)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(input.AsSpan(1));
        var blank = text.IndexOf("\n\n", StringComparison.Ordinal);
        var head = (blank < 0 ? text : text[..blank]).Split('\n');
        var body = blank < 0 ? [] : Encoding.UTF8.GetBytes(text[(blank + 2)..]);
        var http = new DefaultHttpContext();
        var feature = http.Features.Get<IHttpRequestFeature>()!;
        var first = head[0].Split(' ', 2);
        feature.Method = first[0].Length > 0 ? first[0] : "GET";
        var target = first.Length > 1 ? first[1] : "/";
        if (!target.StartsWith('/'))
        {
            target = "/" + target;
        }

        feature.RawTarget = target;
        int q = target.IndexOf('?', StringComparison.Ordinal);
        feature.Path = q < 0 ? target : target[..q];
        feature.QueryString = q < 0 ? "" : target[q..];
        foreach (var line in head.Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line[..colon].All(c => c > ' ' && c < 127))
            {
                http.Request.Headers.Append(line[..colon], line[(colon + 1)..]);
            }
        }

        http.Request.Body = new MemoryStream(body);
        http.Request.ContentLength = body.Length;
        _ = Authenticator.Value.AuthenticateAsync(http, Styles.Value[input[0] % Styles.Value.Length]).GetAwaiter().GetResult();
    }

    /// <summary>S3's XML request bodies: the generic reader (CompleteMultipartUpload, DeleteObjects, configurations) and Tagging.</summary>
    private static void S3XmlBodies(byte[] input)
    {
        try
        {
            S3Xml.Parse(input);
        }
        catch (S3Exception)
        {
        }

        try
        {
            Tagging.ParseXml(input, maxTags: 50);
        }
        catch (S3Exception)
        {
        }
    }

    /// <summary>The aws-chunked decoder, unsigned, then with chunk signatures to check.</summary>
    private static void AwsChunked(byte[] input)
    {
        foreach (var signed in new[] { false, true })
        {
            var signatures = signed
                ? new ChunkSignatures(new byte[32], "20150830T123600Z", "20150830/us-east-1/s3/aws4_request", new string('0', 64), trailer: true)
                : null;
            using var decoder = new AwsChunkedStream(new MemoryStream(input), signatures, bufferSize: 64);
            var buffer = new byte[4096];
            try
            {
                while (decoder.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (S3Exception)
            {
            }
            catch (ChunkSignatureMismatchException)
            {
            }
        }
    }

    private static readonly Lazy<ExpressionContext> Placeholders = new(() => new(
        Enumerable.Range('a', 26).ToDictionary(c => "#" + (char)c, c => ((char)c).ToString()),
        Enumerable.Range('a', 26).ToDictionary(c => ":" + (char)c, c => c % 3 == 0 ? AttributeValue.FromS("x") : c % 3 == 1 ? AttributeValue.FromN(DynamoNumber.Parse("1")) : AttributeValue.FromBool(true))));

    /// <summary>DynamoDB's expression parser: the first byte picks condition, update or projection.</summary>
    private static void DynamoDbExpression(byte[] input)
    {
        if (input.Length < 1)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(input.AsSpan(1));
        try
        {
            switch (input[0] % 3)
            {
                case 0: Parser.ParseCondition(text, "ConditionExpression", Placeholders.Value); break;
                case 1: Parser.ParseUpdate(text, Placeholders.Value); break;
                default: Parser.ParseProjection(text, Placeholders.Value); break;
            }
        }
        catch (DynamoDbException)
        {
        }
    }

    private static void IamPolicy(byte[] input)
    {
        try
        {
            PolicyDocument.Parse(Encoding.UTF8.GetString(input));
        }
        catch (PolicySyntaxException)
        {
        }
    }

    private static void AgentJson(byte[] input)
    {
        try
        {
            AgentConfiguration.Parse(Encoding.UTF8.GetString(input), "/nonexistent-millrace-fuzz");
        }
        catch (AgentConfigurationException)
        {
        }
    }

    private static readonly Lazy<IReadOnlyList<IDataConverter>> Converters = new(() => DataProcessing.Parse(JsonNode.Parse("""
        [
          {"optionName": "SINGLELINE"},
          {"optionName": "CSVTOJSON", "customFieldNames": ["a", "b", "c"], "delimiter": ","},
          {"optionName": "LOGTOJSON", "logFormat": "COMMONAPACHELOG"},
          {"optionName": "LOGTOJSON", "logFormat": "COMBINEDAPACHELOG"},
          {"optionName": "LOGTOJSON", "logFormat": "APACHEERRORLOG"},
          {"optionName": "LOGTOJSON", "logFormat": "SYSLOG"},
          {"optionName": "LOGTOJSON", "logFormat": "RFC3339SYSLOG"},
          {"optionName": "ADDBRACKETS"}
        ]
        """)!.AsArray(), "fuzz"));

    /// <summary>The agent's record converters (SINGLELINE, CSVTOJSON, LOGTOJSON for each log format, ADDBRACKETS) on one record.</summary>
    private static void AgentRecords(byte[] input)
    {
        foreach (var converter in Converters.Value)
        {
            converter.Convert(input);
        }
    }
}
