using System.Collections.Concurrent;
using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Kinesis;
using Millrace.Iam;
using Millrace.Lambda;
using Microsoft.AspNetCore.Http;
using Millrace.Protocol;
using Millrace.Protocol.EventStream;
using Millrace.Protocol.Wire;
using Millrace.S3;
using Millrace.Logs;
using Millrace.Storage.Logs;

namespace Millrace.Server.Hosting;

/// <summary>Function logs into CloudWatch Logs, in process: PutLogEvents' rules, in batches under its 1 MB limit.</summary>
internal sealed class FunctionLogBridge(LogsService logs) : IFunctionLogSink
{
    private const int BatchBytes = 900 * 1024;
    private const int BatchEvents = 10_000;

    public async ValueTask WriteAsync(string group, string stream, IReadOnlyList<(long Timestamp, string Message)> events, CancellationToken cancellationToken = default)
    {
        await logs.EnsureStreamAsync(group, stream, cancellationToken);
        var batch = new List<NewLogEvent>();
        long bytes = 0;
        foreach (var (ts, message) in events)
        {
            var size = System.Text.Encoding.UTF8.GetByteCount(message) + 26;
            if (batch.Count > 0 && (bytes + size > BatchBytes || batch.Count == BatchEvents))
            {
                await logs.PutAsync(group, stream, batch, cancellationToken);
                batch = [];
                bytes = 0;
            }

            batch.Add(new NewLogEvent(ts, message.Length == 0 ? " " : message));
            bytes += size;
        }

        if (batch.Count > 0)
        {
            await logs.PutAsync(group, stream, batch, cancellationToken);
        }
    }
}

/// <summary>Lambda's access to S3, in process: code archives from the object store, on-failure records through S3's own write path.</summary>
internal sealed class BucketObjectBridge(S3Service s3) : IBucketObjects
{
    public async ValueTask<byte[]?> ReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        await using var reader = await s3.Store.OpenObjectAsync(bucket, key, cancellationToken);
        if (reader is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        await reader.CopyToAsync(buffer, 0, reader.Object.Size, cancellationToken);
        return buffer.ToArray();
    }

    public ValueTask<bool> WriteAsync(string bucket, string key, ReadOnlyMemory<byte> body, string contentType, CancellationToken cancellationToken = default) =>
        s3.PutObjectAsync(bucket, key, body, contentType, cancellationToken);
}

/// <summary>Kinesis operations called in process by Lambda's event-source mappings: the same handlers the endpoint runs, no HTTP.</summary>
internal sealed class KinesisCallBridge(IReadOnlyDictionary<string, KinesisOperation> operations, TimeProvider clock) : IKinesisCalls
{
    public async Task<byte[]> CallUtf8Async(string operation, JsonObject input, CancellationToken cancellationToken = default) =>
        (await RunAsync(operation, input, cancellationToken)).Output;

    /// <summary>
    /// The endpoint's own SubscribeToShard handler writes its event stream into a pipe instead of an HTTP response;
    /// the frames are decoded here, so a mapping on a consumer gets exactly what a subscriber over HTTP/2 would.
    /// </summary>
    public async IAsyncEnumerable<byte[]> SubscribeToShardAsync(JsonObject input, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (_, context) = await RunAsync("SubscribeToShard", input, cancellationToken);
        var respond = context.Streaming ?? throw new InvalidOperationException("SubscribeToShard answered without an event stream.");
        var pipe = new Pipe();
        var http = new DefaultHttpContext();
        http.Response.Body = pipe.Writer.AsStream(leaveOpen: true);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writing = Task.Run(async () =>
        {
            try
            {
                await respond(http.Response, lifetime.Token);
                await http.Response.BodyWriter.FlushAsync(lifetime.Token);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                await pipe.Writer.CompleteAsync();
            }
        }, CancellationToken.None);

        try
        {
            var initial = true;
            while (true)
            {
                var read = await pipe.Reader.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                var frames = buffer.IsSingleSegment ? buffer.First : buffer.ToArray();
                var offset = 0;
                var events = new List<byte[]>();
                while (EventStreamCodec.TryDecode(frames.Span[offset..], out var message, out var consumed))
                {
                    offset += consumed;
                    if (message!.GetString(":message-type") == "exception")
                    {
                        var type = message.GetString(":exception-type") ?? "InternalFailure";
                        var text = JsonNode.Parse(message.Payload.Span)?["message"]?.GetValue<string>() ?? type;
                        throw new ServiceException(type, text, 400);
                    }

                    if (initial)
                    {
                        initial = false; // the initial-response event carries nothing
                        continue;
                    }

                    events.Add(message.Payload.ToArray());
                }

                pipe.Reader.AdvanceTo(buffer.GetPosition(offset), buffer.End);
                foreach (var e in events)
                {
                    yield return e;
                }

                if (read.IsCompleted)
                {
                    yield break;
                }
            }
        }
        finally
        {
            await lifetime.CancelAsync();
            await pipe.Reader.CompleteAsync();
            await writing;
        }
    }

    private async Task<(byte[] Output, Millrace.Kinesis.OperationContext Context)> RunAsync(string operation, JsonObject input, CancellationToken cancellationToken)
    {
        var handler = operations[operation];
        using var document = JsonDocument.Parse(input.ToJsonString());
        var buffer = new ArrayBufferWriter<byte>();
        Millrace.Kinesis.OperationContext context;
        await using (var writer = new Utf8JsonWriter(buffer))
        {
            context = new Millrace.Kinesis.OperationContext(operation, document.RootElement, writer, "AKIDMILLRACELAMBDA", clock.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
            try
            {
                await handler(context);
            }
            catch (KinesisException e)
            {
                throw new ServiceException(e.ErrorType, e.ErrorMessage, e.StatusCode);
            }
        }

        return (buffer.WrittenSpan.ToArray(), context);
    }
}

/// <summary>S3's object events to Lambda's S3 triggers: the host creates S3 before Lambda, so the target is set once Lambda exists.</summary>
internal sealed class ObjectEventBridge : IObjectEventSink
{
    public S3Service? S3 { get; set; }

    public LambdaService? Lambda { get; set; }

    public async ValueTask OnObjectEventAsync(ObjectEvent objectEvent, CancellationToken ct = default)
    {
        if (S3 is null || Lambda is null || await S3.GetNotificationConfigurationAsync(objectEvent.Bucket, ct) is not { } xml
            || !xml.Contains("FunctionConfiguration", StringComparison.Ordinal))
        {
            return;
        }

        await Lambda.NotifyObjectAsync(new ObjectNotification(objectEvent.EventName, objectEvent.Bucket, objectEvent.Key, objectEvent.Size,
            objectEvent.ETag, objectEvent.Time, objectEvent.RequestId, xml), ct);
    }
}

/// <summary>Firehose's server-side encryption keys from the KMS key store Kinesis uses: the AWS-owned key is alias/aws/kinesis's.</summary>
internal static class FirehoseKeys
{
    public static string Resolve(Millrace.Kinesis.Encryption.KmsKeyStore keys, string? keyArn)
    {
        try
        {
            return keys.Resolve(keyArn ?? Millrace.Kinesis.Encryption.KmsKeyStore.KinesisDefaultAlias);
        }
        catch (KinesisException e)
        {
            throw new ServiceException("InvalidKMSResourceException", e.ErrorMessage ?? e.ErrorType);
        }
    }
}

/// <summary>
/// Execution-role credentials for Lambda's environments (--auth sigv4): one 12-hour session per role, renewed when
/// less than an hour is left, so environments started at any time hold credentials that outlive them.
/// </summary>
internal sealed class RoleSessionBridge(IdentityDirectory identities)
{
    private static readonly TimeSpan Duration = TimeSpan.FromHours(12);
    private readonly ConcurrentDictionary<string, (FunctionCredentials Credentials, DateTimeOffset Expiration)> _sessions = new(StringComparer.Ordinal);

    public async Task<FunctionCredentials?> CredentialsAsync(string roleArn, CancellationToken ct)
    {
        var now = identities.Clock.GetUtcNow();
        if (_sessions.TryGetValue(roleArn, out var cached) && cached.Expiration - now > TimeSpan.FromHours(1))
        {
            return cached.Credentials;
        }

        var prefix = $"arn:aws:iam::{identities.AccountId}:role/";
        if (!roleArn.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var session = await identities.IssueRoleSessionAsync(roleArn[(roleArn.LastIndexOf('/') + 1)..], "millrace-lambda", Duration, null, ct);
        if (session is null)
        {
            return null;
        }

        var credentials = new FunctionCredentials(session.AccessKeyId, session.SecretAccessKey, session.SessionToken);
        _sessions[roleArn] = (credentials, session.Expiration);
        return credentials;
    }
}
