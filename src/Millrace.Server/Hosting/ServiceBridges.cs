using Millrace.Lambda;
using Millrace.Logs;
using Millrace.Storage.Logs;
using Millrace.Storage.Objects;

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

/// <summary>Lambda's code from S3 (CreateFunction with S3Bucket/S3Key), read from the object store directly.</summary>
internal sealed class CodeObjectBridge(IObjectStore objects) : ICodeObjects
{
    public async ValueTask<byte[]?> ReadAsync(string bucket, string key, CancellationToken cancellationToken = default)
    {
        await using var reader = await objects.OpenObjectAsync(bucket, key, cancellationToken);
        if (reader is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        await reader.CopyToAsync(buffer, 0, reader.Object.Size, cancellationToken);
        return buffer.ToArray();
    }
}
