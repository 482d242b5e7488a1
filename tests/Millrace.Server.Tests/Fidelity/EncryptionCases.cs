namespace Millrace.Server.Tests.Fidelity;

/// <summary>StartStreamEncryption and StopStreamEncryption.</summary>
public sealed class EncryptionCases : FidelityCaseFamily
{
    public override IEnumerable<FidelityCase> Cases()
    {
        yield return new("StartStreamEncryption.UnknownKey", "StartStreamEncryption")
        {
            Source = "model: StartStreamEncryption KMSNotFoundException",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, EncryptionType = "KMS", KeyId = "alias/does-not-exist" },
            ExpectedType = "KMSNotFoundException",
            Message = @"Alias arn:aws:kms:{region}:{account}:alias/does-not-exist is not found\.",
        };
        yield return new("StartStreamEncryption.BadType", "StartStreamEncryption")
        {
            Source = "model: EncryptionType enum (KMS, NONE)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, EncryptionType = "AES", KeyId = "alias/aws/kinesis" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("encryptionType", @"must satisfy enum value set: \[NONE, KMS\]", "'AES'"),
        };
        yield return new("StartStreamEncryption.StreamNotFound", "StartStreamEncryption")
        {
            Source = "model: StartStreamEncryption RNF",
            Request = c => new { StreamName = c.Stream, EncryptionType = "KMS", KeyId = "alias/aws/kinesis" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("StopStreamEncryption.NotEncrypted", "StopStreamEncryption")
        {
            Source = "model: StopStreamEncryption IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, EncryptionType = "KMS", KeyId = "alias/aws/kinesis" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Stream {stream} under account {account} is not encrypted\.",
        };
        yield return new("StartStreamEncryption.ShowsInSummary", "DescribeStreamSummary")
        {
            Source = "reference: describes carry EncryptionType KMS and the KeyId",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("StartStreamEncryption", new { StreamName = c.Stream, EncryptionType = "KMS", KeyId = "alias/aws/kinesis" });
            },
            Request = c => new { StreamName = c.Stream },
            ExpectedType = null,
            Status = 200,
            Message = @".*""EncryptionType"":""KMS"",""KeyId"":""alias/aws/kinesis"".*",
        };
    }
}
