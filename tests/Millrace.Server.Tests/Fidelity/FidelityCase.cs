namespace Millrace.Server.Tests.Fidelity;

/// <summary>Which server a case runs against (all real servers on 127.0.0.1).</summary>
public enum FidelityServer
{
    /// <summary><c>millrace serve</c> with default options.</summary>
    Default,

    /// <summary><c>millrace serve --enforce-limits</c> with small per-shard figures (see <see cref="FidelityFixture"/>).</summary>
    EnforceLimits,

    /// <summary>An in-process host on a <see cref="Infrastructure.ManualClock"/> the setup can advance (expiry cases).</summary>
    ManualClock,
}

/// <summary>
/// One row of the fidelity table: set up, send one request, and compare the error with what AWS sends.
/// In <see cref="Message"/>, <c>{stream}</c>, <c>{account}</c> and <c>{region}</c> stand for the case's stream
/// name, account id and region (inserted regex-escaped); the pattern must match the whole message.
/// </summary>
public sealed record FidelityCase(string Name, string Operation)
{
    /// <summary>Where the expectation comes from, e.g. "4.3: Garbage ShardIterator" or "model: GetRecords IA".</summary>
    public required string Source { get; init; }

    public FidelityServer Server { get; init; } = FidelityServer.Default;

    /// <summary>Steps before the request (create the case's stream, write records, keep values for the request).</summary>
    public Func<FidelityContext, Task>? Setup { get; init; }

    /// <summary>The request body: an object serialized as JSON, or a string sent exactly as it is (null: no body).</summary>
    public required Func<FidelityContext, object?> Request { get; init; }

    /// <summary>Send without the SigV4 Authorization header.</summary>
    public bool Unsigned { get; init; }

    /// <summary>Throttling cases: send the request this many times at once; the first failure is the one checked.</summary>
    public int Burst { get; init; } = 1;

    /// <summary>PutRecords per-entry failures: the error is an entry's ErrorCode/ErrorMessage inside a 200 response.</summary>
    public bool PerEntry { get; init; }

    /// <summary>The <c>__type</c> AWS sends; null for rows where AWS succeeds (then <see cref="Message"/> matches the body).</summary>
    public required string? ExpectedType { get; init; }

    public int Status { get; init; } = 400;

    /// <summary>Regex for the whole message; null when AWS sends no message member.</summary>
    public required string? Message { get; init; }

    public override string ToString() => Name;
}

/// <summary>
/// A family of fidelity cases (one file per operation family). Subclasses are found by reflection, so a new
/// family is a new file: derive from this and return the rows.
/// </summary>
public abstract class FidelityCaseFamily
{
    public abstract IEnumerable<FidelityCase> Cases();
}
