using System.Text;
using System.Text.Json;

namespace Millrace.Protocol.Tests;

public class ModelValidatorWordingTests
{
    private static KinesisException? Validate(string op, string json)
    {
        using var doc = JsonDocument.Parse(json);
        return ModelValidator.Kinesis.Validate(op, doc.RootElement);
    }

    [Fact]
    public void PutRecordsEmptyNameAndListLikeKinesalite()
    {
        var e = Validate("PutRecords", """{"StreamName":"","Records":[]}""");
        Assert.Equal("ValidationException", e!.ErrorType);
        Assert.Equal(
            "3 validation errors detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1; "
            + "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
            + "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1",
            e.ErrorMessage);
    }

    [Fact]
    public void TooManyErrorsAreCappedAtTen()
    {
        var records = string.Join(",", Enumerable.Repeat("""{"PartitionKey":"","Data":""}""", 501));
        var e = Validate("PutRecords", "{\"StreamName\":\"s\",\"Records\":[" + records + "]}");
        Assert.StartsWith("10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@", e!.ErrorMessage);
        Assert.Contains("at 'records' failed to satisfy constraint: Member must have length less than or equal to 500; ", e.ErrorMessage);
        Assert.EndsWith("Value '' at 'records.9.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1", e.ErrorMessage);
    }

    [Fact]
    public void TagKeysListReportsMemberConstraints()
    {
        var name = new string('a', 129);
        var e = Validate("RemoveTagsFromStream", $$"""{"StreamName":"s","TagKeys":["a","{{name}}","b"]}""");
        Assert.Equal($"1 validation error detected: Value '[a, {name}, b]' at 'tagKeys' failed to satisfy constraint: "
            + "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]", e!.ErrorMessage);
    }

    [Theory]
    [InlineData("23456", "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5")]
    [InlineData("=+/=", "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='")]
    [InlineData("+/+=", "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected")]
    [InlineData("ab c", "'ab c' can not be converted to a Blob: Invalid Base64 character: ' '")]
    public void BlobSerializationWording(string data, string message)
    {
        var e = Validate("PutRecord", $$"""{"StreamName":"s","PartitionKey":"p","Data":"{{data}}"}""");
        Assert.Equal("SerializationException", e!.ErrorType);
        Assert.Equal(message, e.ErrorMessage);
    }

    [Fact]
    public void EscapedBase64IsDecodedBeforeChecking()
    {
        // System.Text.Json escapes '+' as \u002B by default; AWS sees the unescaped text.
        Assert.Null(Validate("PutRecord", """{"StreamName":"s","PartitionKey":"p","Data":"\u002B\/8="}"""));
    }

    [Fact]
    public void TypeErrorWinsOverConstraintErrors()
    {
        var e = Validate("CreateStream", """{"StreamName":"","ShardCount":"1"}""");
        Assert.Equal("SerializationException", e!.ErrorType);
        Assert.Equal("STRING_VALUE can not be converted to an Integer", e.ErrorMessage);
    }

    [Fact]
    public void UnknownMembersAndNullsAreIgnored()
    {
        Assert.Null(Validate("DescribeStreamSummary", """{"StreamName":"s","Bogus":{"x":[1]},"StreamARN":null}"""));
        Assert.Equal("Value null at 'streamName' failed to satisfy constraint: Member must not be null",
            Validate("CreateStream", """{"StreamName":null}""")!.ErrorMessage!["1 validation error detected: ".Length..]);
    }

    [Fact]
    public void NumbersAreFlooredAndPrintedQuoted()
    {
        Assert.Equal("1 validation error detected: Value '-1' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
            Validate("CreateStream", """{"StreamName":"s","ShardCount":-0.5}""")?.ErrorMessage);
        Assert.Null(Validate("CreateStream", """{"StreamName":"s","ShardCount":1.9}"""));
    }

    [Fact]
    public void NonObjectBodiesAndUnknownOperations()
    {
        Assert.Equal("SerializationException", Validate("ListStreams", "[]")!.ErrorType);
        Assert.Equal("SerializationException", Validate("ListStreams", "1")!.ErrorType);
        Assert.Equal("UnknownOperationException", Validate("Nope", "{}")!.ErrorType);
        Assert.True(ModelValidator.Kinesis.IsKnownOperation("PutRecords"));
        Assert.False(ModelValidator.Kinesis.IsKnownOperation("putRecords"));
    }

    [Fact]
    public void DataLimitComesFromTheModel()
    {
        var limit = ModelValidator.Kinesis.GetShape("Data").Max;
        Assert.Equal(10485760, limit);
        var ok = Convert.ToBase64String(new byte[1048577]);
        Assert.Null(Validate("PutRecord", $$"""{"StreamName":"s","PartitionKey":"p","Data":"{{ok}}"}"""));
    }
}

public class SigV4AuthorizationTests
{
    private const string Good = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, "
        + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private static readonly Dictionary<string, string?> NoQuery = [];

    [Fact]
    public void ParsesAGoodHeader()
    {
        var c = SigV4Authorization.Parse(Good, NoQuery, "20260101T000000Z");
        Assert.Equal("AKIDEXAMPLE", c.AccessKeyId);
        Assert.Equal("20260101", c.Date);
        Assert.Equal("us-east-1", c.Region);
        Assert.Equal("kinesis", c.Service);
        Assert.Equal(["content-type", "host", "x-amz-date", "x-amz-target"], c.SignedHeaders);
        Assert.Equal(64, c.Signature.Length);
        Assert.False(c.IsPresigned);
    }

    [Fact]
    public void MissingAuthentication()
    {
        var e = Assert.Throws<KinesisException>(() => SigV4Authorization.Parse(null, NoQuery, null));
        Assert.Equal("MissingAuthenticationTokenException", e.ErrorType);
        Assert.Equal("Missing Authentication Token", e.ErrorMessage);
    }

    [Fact]
    public void MissingPiecesAreListedInAwsWording()
    {
        var e = Assert.Throws<KinesisException>(() => SigV4Authorization.Parse("AWS4-HMAC-SHA256 ", NoQuery, null));
        Assert.Equal("IncompleteSignatureException", e.ErrorType);
        Assert.Equal("Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. "
            + "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            + "Authorization=AWS4-HMAC-SHA256 ", e.ErrorMessage);
    }

    [Fact]
    public void DateHeaderIsEnough() => Assert.Equal("Thu, 01 Jan 2026 00:00:00 GMT", SigV4Authorization.Parse(Good, NoQuery, null, "Thu, 01 Jan 2026 00:00:00 GMT").RequestDate);

    [Fact]
    public void BothFormsAreRejected()
    {
        var query = new Dictionary<string, string?> { ["X-Amz-Algorithm"] = "AWS4-HMAC-SHA256" };
        var e = Assert.Throws<KinesisException>(() => SigV4Authorization.Parse(Good, query, "20260101T000000Z"));
        Assert.Equal("InvalidSignatureException", e.ErrorType);
        Assert.Equal("Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.", e.ErrorMessage);
    }

    [Fact]
    public void PresignedQuery()
    {
        var query = new Dictionary<string, string?>
        {
            ["X-Amz-Algorithm"] = "AWS4-HMAC-SHA256",
            ["X-Amz-Credential"] = "AKID/20260101/eu-west-1/kinesis/aws4_request",
            ["X-Amz-Signature"] = "abc",
            ["X-Amz-SignedHeaders"] = "host",
            ["X-Amz-Date"] = "20260101T000000Z",
        };
        var c = SigV4Authorization.Parse(null, query, null);
        Assert.True(c.IsPresigned);
        Assert.Equal("eu-west-1", c.Region);
        Assert.Equal("20260101T000000Z", c.RequestDate);

        query.Remove("X-Amz-Signature");
        query.Remove("X-Amz-Date");
        var e = Assert.Throws<KinesisException>(() => SigV4Authorization.Parse(null, query, null));
        Assert.Equal("IncompleteSignatureException", e.ErrorType);
        Assert.Equal("AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-Date'. "
            + "Re-examine the query-string parameters.", e.ErrorMessage);
    }

    [Fact]
    public void BadCredentialScope()
    {
        var e = Assert.Throws<KinesisException>(() => SigV4Authorization.Parse(
            "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis, SignedHeaders=host, Signature=x", NoQuery, "20260101T000000Z"));
        Assert.Equal("IncompleteSignatureException", e.ErrorType);
        Assert.StartsWith("Credential should be scoped with a valid terminator: 'aws4_request', not 'kinesis'.", e.ErrorMessage);
    }
}

public class JsonTimestampsTests
{
    [Theory]
    [InlineData(1795359458766L, "1795359458.766")]
    [InlineData(1795359458000L, "1795359458")]
    [InlineData(1795359458500L, "1795359458.5")]
    [InlineData(1795359458050L, "1795359458.05")]
    [InlineData(0L, "0")]
    [InlineData(-1500L, "-1.5")]
    public void Formats(long ms, string text)
    {
        Assert.Equal(text, JsonTimestamps.FormatEpochSeconds(ms));
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            JsonTimestamps.WriteEpochSeconds(writer, "T", ms);
            writer.WriteEndObject();
        }

        Assert.Equal("{\"T\":" + text + "}", Encoding.UTF8.GetString(stream.ToArray()));
        using var doc = JsonDocument.Parse(text);
        Assert.Equal(ms, JsonTimestamps.ReadEpochMilliseconds(doc.RootElement));
    }

    [Theory]
    [InlineData("1795359458.7669", 1795359458766L)]
    [InlineData("1.795359458766E9", 1795359458766L)]
    [InlineData("1795359458", 1795359458000L)]
    public void Reads(string json, long ms)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(ms, JsonTimestamps.ReadEpochMilliseconds(doc.RootElement));
    }

    [Fact]
    public void StringsAreNotTimestamps()
    {
        using var doc = JsonDocument.Parse("\"1795359458\"");
        Assert.Equal("SerializationException", Assert.Throws<KinesisException>(() => JsonTimestamps.ReadEpochMilliseconds(doc.RootElement)).ErrorType);
    }
}
