using System.Net;
using Millrace.Protocol.Tests;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Wire;

/// <summary>
/// Every invalid request generated from the AWS service model's constraints (the same cases the validator's
/// unit tests use), sent to a real server over HTTP: each must come back as HTTP 400 with AWS's exception type
/// and message, before anything is stored.
/// </summary>
public sealed class ModelValidationOverTheWireTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task EveryGeneratedInvalidRequestGetsAwsError()
    {
        using var client = fixture.NewClient();
        var failures = new List<string>();
        int sent = 0;
        foreach (var c in GeneratedValidationCases.Cases.Values)
        {
            if (c.ErrorType is null)
            {
                continue; // valid requests would act on the server; these cases are about rejection
            }

            sent++;
            var response = await client.SendRawAsync(c.Operation, c.Body);
            if (response.Status != HttpStatusCode.BadRequest || response.ErrorType != c.ErrorType)
            {
                failures.Add($"{c.Id}: expected {c.ErrorType}, got {response}");
            }
            else if (c.Message is not null && response.ErrorMessage != c.Message)
            {
                failures.Add($"{c.Id}: expected message {c.Message}, got {response.ErrorMessage}");
            }
            else if (c.MessageEnd is not null && response.ErrorMessage?.EndsWith(c.MessageEnd, StringComparison.Ordinal) != true)
            {
                failures.Add($"{c.Id}: expected message ending {c.MessageEnd}, got {response.ErrorMessage}");
            }
        }

        Assert.True(sent > 300, $"only {sent} generated cases");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} cases failed:\n" + string.Join('\n', failures.Take(30)));

        // Nothing was created by any of them.
        var list = await client.OkAsync("ListStreams", new { });
        Assert.Empty(list["StreamNames"]!.AsArray());
    }
}
