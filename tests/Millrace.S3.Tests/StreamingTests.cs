using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using Millrace.Storage.Objects;

namespace Millrace.S3.Tests;

/// <summary>Forwards to a real store but discards object bytes (counting them), to measure the service alone.</summary>
public class DiscardingStore : DispatchProxy
{
    internal IObjectStore Inner { get; set; } = null!;

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (targetMethod!.Name == nameof(IObjectStore.BeginObjectAsync))
        {
            return ValueTask.FromResult<IObjectWriter>(new DiscardWriter(Inner, (string)args![0]!));
        }

        try
        {
            return targetMethod.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    public static IObjectStore Create(IObjectStore inner)
    {
        var proxy = DispatchProxy.Create<IObjectStore, DiscardingStore>();
        ((DiscardingStore)(object)proxy).Inner = inner;
        return proxy;
    }

    private sealed class DiscardWriter(IObjectStore inner, string bucket) : IObjectWriter
    {
        private readonly CountingStream _content = new();

        public Stream Content => _content;

        public long Length => _content.Length;

        public async ValueTask<ObjectRecord?> CommitAsync(string key, ReadOnlyMemory<byte> metadata, string etag, DateTimeOffset lastModified, bool onlyIfAbsent = false, CancellationToken ct = default)
        {
            // Record an empty object carrying the metadata; the size is what was counted.
            await using var writer = await inner.BeginObjectAsync(bucket, ct);
            var record = await writer.CommitAsync(key, metadata, etag, lastModified, onlyIfAbsent, ct);
            return record is null ? null : record with { Size = _content.Length };
        }

        public ValueTask<PartRecord> CommitPartAsync(string etag, ReadOnlyMemory<byte> metadata, DateTimeOffset lastModified, CancellationToken ct = default) =>
            throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>A read-only stream of pseudo-random bytes of a given length, generated on the fly.</summary>
internal sealed class GeneratedStream(long length) : Stream
{
    private readonly byte[] _block = RandomNumberGenerator.GetBytes(64 * 1024);
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = (int)Math.Min(count, length - _position);
        for (int done = 0; done < n;)
        {
            int at = (int)((_position + done) % _block.Length);
            int step = Math.Min(n - done, _block.Length - at);
            Array.Copy(_block, at, buffer, offset + done, step);
            done += step;
        }

        _position += n;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

public sealed class StreamingTests
{
    [Fact]
    public async Task A_1_gib_put_is_streamed_not_buffered()
    {
        const long Size = 1L << 30;
        var service = new S3Service(DiscardingStore.Create(new MemoryObjectStore()), new S3Options());
        await using var host = await S3TestServer.StartWithAsync(service);
        await host.CreateBucketAsync("stream");
        var workingSet = WorkingSetSampler.Start();

        var content = new StreamContent(new GeneratedStream(Size), 128 * 1024);
        content.Headers.ContentLength = Size;
        using var put = await host.Client.PutAsync("/stream/big", content);
        long growth = await workingSet.StopAsync();
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.NotNull(put.Headers.ETag);
        Assert.True(growth < 256L * 1024 * 1024, $"working set grew by {growth / (1024 * 1024)} MiB during a 1 GiB upload");
    }

    [Fact]
    public async Task A_512_mib_object_round_trips_through_the_file_store_with_flat_memory()
    {
        const long Size = 512L << 20;
        await using var host = await S3TestServer.StartAsync();
        await host.CreateBucketAsync("disk");
        var workingSet = WorkingSetSampler.Start();

        var content = new StreamContent(new GeneratedStream(Size), 128 * 1024);
        content.Headers.ContentLength = Size;
        using var put = await host.Client.PutAsync("/disk/big", content);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var get = await host.Client.GetAsync("/disk/big", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(Size, get.Content.Headers.ContentLength);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        await using (var body = await get.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[128 * 1024];
            long total = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                md5.AppendData(buffer, 0, n);
                total += n;
            }

            Assert.Equal(Size, total);
        }

        long growth = await workingSet.StopAsync();
        Assert.Equal(put.Headers.ETag!.Tag, "\"" + Convert.ToHexStringLower(md5.GetHashAndReset()) + "\"");
        Assert.True(growth < 256L * 1024 * 1024, $"working set grew by {growth / (1024 * 1024)} MiB during a 512 MiB round trip");
    }
}

/// <summary>Samples this process's working set every 20 ms; <see cref="StopAsync"/> returns the peak growth over the start.</summary>
internal sealed class WorkingSetSampler
{
    private readonly CancellationTokenSource _done = new();
    private readonly long _baseline;
    private long _peak;
    private Task? _loop;

    private WorkingSetSampler(long baseline) => _baseline = _peak = baseline;

    public static WorkingSetSampler Start()
    {
        GC.Collect();
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var sampler = new WorkingSetSampler(process.WorkingSet64);
        sampler._loop = Task.Run(async () =>
        {
            for (int i = 0; i < 100_000 && !sampler._done.IsCancellationRequested; i++)
            {
                process.Refresh();
                sampler._peak = Math.Max(sampler._peak, process.WorkingSet64);
                await Task.Delay(20);
            }
        });
        return sampler;
    }

    public async Task<long> StopAsync()
    {
        _done.Cancel();
        await _loop!;
        _done.Dispose();
        return _peak - _baseline;
    }
}
