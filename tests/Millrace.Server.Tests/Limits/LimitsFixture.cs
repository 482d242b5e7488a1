using System.Net;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Limits;

/// <summary>Two servers: one with <c>--enforce-limits</c> and small per-shard figures (so bursts exceed them at
/// once and tests never wait for refills), and one started without the flag.</summary>
public sealed class LimitsFixture : IAsyncLifetime
{
    /// <summary>The figures of the limited server.</summary>
    public const int WriteRecordsPerSecond = 50;
    public const int WriteBytesPerSecond = 64 * 1024;
    public const int ReadPenaltyBytes = 4096;

    public static readonly string[] LimitedArgs =
    [
        "--enforce-limits",
        "--shard-write-records-per-sec", $"{WriteRecordsPerSecond}",
        "--shard-write-bytes-per-sec", $"{WriteBytesPerSecond}",
        "--shard-read-bytes-per-sec", "1048576",
        "--read-penalty-bytes", $"{ReadPenaltyBytes}",
    ];

    private MillraceProcess? _limited;
    private MillraceProcess? _unlimited;

    public MillraceProcess Limited => _limited ?? throw new InvalidOperationException("not started");

    public MillraceProcess Unlimited => _unlimited ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        var limited = MillraceProcess.StartAsync(LimitedArgs);
        var unlimited = MillraceProcess.StartAsync();
        _limited = await limited;
        _unlimited = await unlimited;
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { _limited, _unlimited })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    /// <summary>CreateStream as a well-behaved client does under the 5-per-second account rate: retry
    /// LimitExceededException, a bounded number of times.</summary>
    public static async Task CreateStreamAsync(KinesisJsonClient client, object request)
    {
        for (int attempt = 0; ; attempt++)
        {
            var response = await client.CallAsync("CreateStream", request);
            if (response.Status == HttpStatusCode.OK)
            {
                return;
            }

            if (response.ErrorType != "LimitExceededException" || response.ErrorMessage?.StartsWith("Rate exceeded", StringComparison.Ordinal) != true || attempt >= 50)
            {
                throw new Xunit.Sdk.XunitException($"CreateStream failed: {response}");
            }

            await Task.Delay(100);
        }
    }
}
