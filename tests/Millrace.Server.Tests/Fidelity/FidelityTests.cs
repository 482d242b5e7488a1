using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Fidelity;

/// <summary>
/// The fidelity table: every case of every <see cref="FidelityCaseFamily"/> in this assembly is sent to a real
/// server and its answer compared with AWS's exception type, HTTP status and message.
/// </summary>
public sealed class FidelityTests(FidelityFixture fixture) : IClassFixture<FidelityFixture>
{
    private static readonly Lazy<IReadOnlyDictionary<string, FidelityCase>> All = new(Collect);

    public static TheoryData<string> CaseNames => [.. All.Value.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task AnswersAsAwsDoes(string name)
    {
        var c = All.Value[name];
        var client = fixture.Client(c.Server);
        var context = new FidelityContext(client, ServerFixture.UniqueName("fid"), c.Server == FidelityServer.ManualClock ? fixture.Clock : null);
        if (c.Setup is not null)
        {
            await c.Setup(context);
        }

        var body = c.Request(context) switch
        {
            null => null,
            string raw => raw,
            var value => JsonSerializer.Serialize(value),
        };
        var response = await SendAsync(c, client, body);

        Assert.True((int)response.Status == c.Status, $"{c.Name}: expected HTTP {c.Status}, got {response}");
        string? type = response.ErrorType;
        string? message = response.ErrorMessage;
        if (c.PerEntry)
        {
            var failed = response.Json?["Records"]?.AsArray().FirstOrDefault(r => r?["ErrorCode"] is not null);
            type = failed?["ErrorCode"]?.GetValue<string>();
            message = failed?["ErrorMessage"]?.GetValue<string>();
        }
        else if (c.ExpectedType is null)
        {
            message = response.Body;
        }

        Assert.True(c.ExpectedType == type, $"{c.Name}: expected {c.ExpectedType ?? "success"}, got {response}");
        if (c.Message is null)
        {
            Assert.True(message is null, $"{c.Name}: expected no message, got {response}");
        }
        else
        {
            var pattern = "^" + c.Message
                .Replace("{stream}", Regex.Escape(context.Stream), StringComparison.Ordinal)
                .Replace("{account}", FidelityContext.Account, StringComparison.Ordinal)
                .Replace("{region}", FidelityContext.Region, StringComparison.Ordinal) + "$";
            Assert.True(message is not null && Regex.IsMatch(message, pattern, RegexOptions.Singleline), $"{c.Name}: message {message} does not match {pattern}");
        }
    }

    /// <summary>Sends the case's request (a burst sends it <see cref="FidelityCase.Burst"/> times at once and keeps
    /// the first answer of the expected type). Cases that are not about rates retry a rate limit, as clients do.</summary>
    private static async Task<KinesisJsonClient.Response> SendAsync(FidelityCase c, KinesisJsonClient client, string? body)
    {
        for (int attempt = 0; ; attempt++)
        {
            var responses = await Task.WhenAll(Enumerable.Range(0, c.Burst).Select(_ => client.SendRawAsync(c.Operation, body, signed: !c.Unsigned)));
            if (c.PerEntry)
            {
                return responses.FirstOrDefault(r => r.Json?["FailedRecordCount"]?.GetValue<int>() > 0) ?? responses[0];
            }

            var response = responses.FirstOrDefault(r => r.Status != HttpStatusCode.OK && r.ErrorType == c.ExpectedType)
                ?? responses.FirstOrDefault(r => r.Status != HttpStatusCode.OK)
                ?? responses[0];
            bool rateLimited = response.ErrorType == "LimitExceededException" && response.ErrorMessage?.StartsWith("Rate exceeded", StringComparison.Ordinal) == true;
            if (!rateLimited || c.Message?.StartsWith("Rate exceeded", StringComparison.Ordinal) == true || attempt >= 50)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }

    [Fact]
    public void TheTableCoversEveryImplementedOperationWithUniqueNames()
    {
        var names = Families().SelectMany(f => f.Cases()).Select(c => c.Name).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        var operations = All.Value.Values.Select(c => c.Operation).ToHashSet(StringComparer.Ordinal);
        foreach (var op in new[] { "CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams", "ListShards", "PutRecord", "PutRecords", "GetShardIterator", "GetRecords" })
        {
            Assert.Contains(op, operations);
        }
    }

    private static IEnumerable<FidelityCaseFamily> Families() =>
        typeof(FidelityCaseFamily).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(FidelityCaseFamily)) && !t.IsAbstract)
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (FidelityCaseFamily)Activator.CreateInstance(t)!);

    private static IReadOnlyDictionary<string, FidelityCase> Collect()
    {
        var cases = new Dictionary<string, FidelityCase>(StringComparer.Ordinal);
        foreach (var c in Families().SelectMany(f => f.Cases()))
        {
            cases.TryAdd(c.Name, c); // duplicates are reported by TheTableCoversEveryImplementedOperationWithUniqueNames
        }

        return cases;
    }
}
