using Millrace.Protocol.Wire;
using Millrace.Storage.Functions;

namespace Millrace.Lambda;

/// <summary>
/// Asynchronous invocations (InvocationType Event, S3 notifications): stored durably before they are accepted, run
/// in the background, retried twice after a function error or timeout with AWS's waits (about 1 and 2 minutes;
/// <see cref="LambdaOptions.AsyncRetryDelays"/>), then dropped. Throttled invocations wait and are tried again
/// without counting. Invocations still queued when the server stops run after it starts again.
/// </summary>
internal sealed class AsyncInvoker : IAsyncDisposable
{
    private readonly LambdaService _service;
    private readonly IFunctionStore _store;
    private readonly LambdaOptions _options;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly HashSet<long> _running = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _slots;
    private Task _loop = Task.CompletedTask;

    public AsyncInvoker(LambdaService service, IFunctionStore store, LambdaOptions options)
    {
        _service = service;
        _store = store;
        _options = options;
        _slots = new SemaphoreSlim(Math.Max(1, options.Concurrency / 2));
    }

    private long Now => _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public void Start() => _loop = Task.Run(RunAsync);

    public async ValueTask EnqueueAsync(string name, string? qualifier, byte[] payload, CancellationToken ct)
    {
        await _store.EnqueueInvocationAsync(name, qualifier, payload, Now, ct);
        _wake.Release();
    }

    private async Task RunAsync()
    {
        var ct = _stopping.Token;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                IReadOnlyList<StoredInvocation> due = await _store.DueInvocationsAsync(Now, 64, ct);
                foreach (var invocation in due)
                {
                    lock (_running)
                    {
                        if (!_running.Add(invocation.Id))
                        {
                            continue;
                        }
                    }

                    await _slots.WaitAsync(ct);
                    _ = Task.Run(async () =>
                    {
                        try
                        {
                            await RunOneAsync(invocation, ct);
                        }
                        finally
                        {
                            lock (_running)
                            {
                                _running.Remove(invocation.Id);
                            }

                            _slots.Release();
                            _wake.Release();
                        }
                    }, CancellationToken.None);
                }

                // Woken by a new invocation or a finished one; otherwise look again for retries that became due.
                await _wake.WaitAsync(TimeSpan.FromMilliseconds(250), ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task RunOneAsync(StoredInvocation invocation, CancellationToken ct)
    {
        bool done;
        try
        {
            var target = await _service.PrepareAsync(invocation.Function, invocation.Qualifier, ct);
            var outcome = await _service.RunAsync(target, invocation.Payload, null, ct);
            done = !outcome.Result.IsError;
        }
        catch (ServiceException e) when (e.Code == "TooManyRequestsException")
        {
            await _store.RescheduleInvocationAsync(invocation.Id, invocation.Attempts, Now + 200, CancellationToken.None);
            return;
        }
        catch (ServiceException)
        {
            done = true; // the function was deleted or cannot run: nothing to retry
        }
        catch (OperationCanceledException)
        {
            return; // stopping: it stays queued
        }

        var attempts = invocation.Attempts + 1;
        if (done || attempts > _options.AsyncRetryDelays.Count)
        {
            await _store.CompleteInvocationAsync(invocation.Id, CancellationToken.None);
        }
        else
        {
            var delay = _options.AsyncRetryDelays[attempts - 1];
            await _store.RescheduleInvocationAsync(invocation.Id, attempts, Now + (long)delay.TotalMilliseconds, CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;

        // Let running invocations finish (they are bounded by their function's timeout).
        for (var i = 0; i < Math.Max(1, _options.Concurrency / 2); i++)
        {
            await _slots.WaitAsync(TimeSpan.FromSeconds(30));
        }

        _stopping.Dispose();
    }
}
