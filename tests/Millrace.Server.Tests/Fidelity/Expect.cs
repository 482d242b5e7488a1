using System.Text.RegularExpressions;

namespace Millrace.Server.Tests.Fidelity;

/// <summary>AWS's message shapes, as regexes for <see cref="FidelityCase.Message"/>.</summary>
public static class Expect
{
    public const string StreamNotFound = @"Stream {stream} under account {account} not found\.";

    /// <summary>A one-error ValidationException: <c>1 validation error detected: Value … at 'member' failed to satisfy constraint: …</c>.</summary>
    public static string Validation(string member, string constraint, string value = ".*") =>
        $@"1 validation error detected: Value {value} at '{Regex.Escape(member)}' failed to satisfy constraint: Member {constraint}";

    public static string NotNull(string member) => Validation(member, "must not be null", "null");

    /// <summary>PutRecord's message and PutRecords' per-entry message for a write over the shard's budget.</summary>
    public static string WriteThrottled(string shardId = "shardId-000000000000") =>
        $@"Rate exceeded for shard {shardId} in stream {{stream}} under account {{account}}\.";

    public const string StreamRateExceeded = @"Rate exceeded for stream {stream} under account {account}\.";
}
