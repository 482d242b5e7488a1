using System.Threading.Channels;
using Millrace.Protocol.Wire;

namespace Millrace.Lambda;

/// <summary>
/// Asynchronous invocations (InvocationType Event): queued, run in the background, and retried twice after a
/// function error or timeout with AWS's waits; throttled invocations wait and are tried again. The queue lives in
/// memory: invocations accepted before a restart and not yet run are lost (durable queues come with S3 notifications).
/// </summary>
internal sealed class AsyncInvoker : IAsyncDisposable
{
    private readonly LambdaService _service;
    private readonly LambdaOptions _options;
    private readonly Channel<(string Name, string? Qualifier, byte[] Payload)> _queue = Channel.CreateUnbounded<(string, string?, byte[])>();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _workers;

    public AsyncInvoker(LambdaService service, LambdaOptions options)
    {
        _service = service;
        _options = options;
        _workers = Enumerable.Range(0, Math.Max(1, options.Concurrency / 2)).Select(_ => Task.Run(WorkAsync)).ToList();
    }

    public void Enqueue(string name, string? qualifier, byte[] payload) => _queue.Writer.TryWrite((name, qualifier, payload));

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var (name, qualifier, payload) in _queue.Reader.ReadAllAsync(_stopping.Token))
            {
                for (var attempt = 0; attempt <= _options.AsyncRetryDelays.Count; attempt++)
                {
                    if (attempt > 0)
                    {
                        await Task.Delay(_options.AsyncRetryDelays[attempt - 1], _stopping.Token);
                    }

                    if (await TryOnceAsync(name, qualifier, payload))
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>True when the invocation is done with (succeeded, or the function is gone); false to retry.</summary>
    private async Task<bool> TryOnceAsync(string name, string? qualifier, byte[] payload)
    {
        for (var throttled = 0; throttled < 600; throttled++)
        {
            try
            {
                var target = await _service.PrepareAsync(name, qualifier, _stopping.Token);
                var outcome = await _service.RunAsync(target, payload, null, _stopping.Token);
                return !outcome.Result.IsError;
            }
            catch (ServiceException e) when (e.Code == "TooManyRequestsException")
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 * (throttled + 1))), _stopping.Token);
            }
            catch (ServiceException)
            {
                return true; // the function was deleted or cannot run: nothing to retry
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopping.CancelAsync();
        await Task.WhenAll(_workers);
        _stopping.Dispose();
    }
}
