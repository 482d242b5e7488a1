using Millrace.Protocol;
using Millrace.Kinesis.Encryption;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>StartStreamEncryption and StopStreamEncryption: server-side encryption of new records under a key of the
/// operator's key directory (<see cref="KmsKeyStore"/>).</summary>
public sealed class EncryptionOperations(StreamService streams, KmsKeyStore keys)
{
    /// <summary>Start and stop calls allowed per stream in a rolling 24 hours.</summary>
    public const int MaxChangesPerDay = 25;
    private const long DayMs = 24 * 3_600_000L;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["StartStreamEncryption"] = StartStreamEncryptionAsync;
        operations["StopStreamEncryption"] = StopStreamEncryptionAsync;
    }

    private async ValueTask StartStreamEncryptionAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        var keyId = ctx.GetString("KeyId")!;
        CheckEncryptionType(ctx, stream);
        CheckActive(stream);
        CheckChangeLimit(stream, ctx.NowMs);

        // Resolving first means an unknown key leaves the stream exactly as it was.
        var resolved = keys.Resolve(keyId);
        await ChangeAsync(stream, ctx.NowMs, s => s with { EncryptionType = "KMS", KeyId = keyId, ResolvedKeyId = resolved }, ctx.CancellationToken);
    }

    private async ValueTask StopStreamEncryptionAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        var keyId = ctx.GetString("KeyId")!;
        CheckEncryptionType(ctx, stream);
        CheckActive(stream);
        if (stream.EncryptionType == "NONE" || stream.KeyId is null)
        {
            throw KinesisException.InvalidArgument(
                $"Stream {stream.StreamName} under account {streams.AccountId} is not encrypted.");
        }

        if (!SameKey(keyId, stream))
        {
            throw KinesisException.InvalidArgument(
                $"Invalid KeyId {keyId}. Stream {stream.StreamName} under account {streams.AccountId} is encrypted with KeyId {stream.KeyId}.");
        }

        CheckChangeLimit(stream, ctx.NowMs);
        await ChangeAsync(stream, ctx.NowMs, s => s with { EncryptionType = "NONE", KeyId = null, ResolvedKeyId = null }, ctx.CancellationToken);
    }

    /// <summary>The KeyId as given at start, or any other name of the same key (its ARN, an alias of it).</summary>
    private bool SameKey(string keyId, StreamDescription stream)
    {
        if (keyId == stream.KeyId)
        {
            return true;
        }

        try
        {
            return keys.Resolve(keyId, createDefault: false) == stream.ResolvedKeyId;
        }
        catch (KinesisException)
        {
            return false; // StopStreamEncryption has no KMS errors: a name that resolves to nothing just does not match
        }
    }

    private void CheckEncryptionType(OperationContext ctx, StreamDescription stream)
    {
        var type = ctx.GetString("EncryptionType");
        if (type != "KMS")
        {
            throw KinesisException.InvalidArgument(
                $"Invalid EncryptionType {type} for stream {stream.StreamName} under account {streams.AccountId}. The only valid value is KMS.");
        }
    }

    private void CheckActive(StreamDescription stream)
    {
        if (stream.Status != StreamStatus.Active)
        {
            throw KinesisException.ResourceInUse(
                $"Stream {stream.StreamName} under account {streams.AccountId} not ACTIVE, instead in state {stream.Status}");
        }
    }

    private void CheckChangeLimit(StreamDescription stream, long nowMs)
    {
        if (stream.EncryptionChangesMs.Count(t => t > nowMs - DayMs) >= MaxChangesPerDay)
        {
            throw KinesisException.LimitExceeded(
                $"Stream {stream.StreamName} under account {streams.AccountId} has had {MaxChangesPerDay} encryption changes in the last 24 hours; " +
                "try again later.");
        }
    }

    /// <summary>ACTIVE → UPDATING (with the new encryption, so every record acknowledged after this call is written
    /// accordingly) → ACTIVE.</summary>
    private async ValueTask ChangeAsync(StreamDescription stream, long nowMs, Func<StreamDescription, StreamDescription> change, CancellationToken ct)
    {
        var updated = await streams.UpdateAsync(stream.StreamName, s =>
        {
            if (s.StreamId != stream.StreamId)
            {
                throw streams.StreamNotFound(stream.StreamName);
            }

            CheckActive(s);
            CheckChangeLimit(s, nowMs);
            return change(s) with
            {
                Status = StreamStatus.Updating,
                StatusChangedAtMs = nowMs,
                EncryptionChangesMs = [.. s.EncryptionChangesMs.Where(t => t > nowMs - DayMs), nowMs],
            };
        }, ct) ?? throw streams.StreamNotFound(stream.StreamName);

        await streams.UpdateAsync(stream.StreamName, s => s.StreamId == updated.StreamId && s.Status == StreamStatus.Updating
            ? s with { Status = StreamStatus.Active, StatusChangedAtMs = streams.NowMs }
            : null, CancellationToken.None); // past the point of no return: never leave it UPDATING
    }
}
