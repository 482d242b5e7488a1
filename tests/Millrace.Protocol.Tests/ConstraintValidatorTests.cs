using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Protocol.Tests;

/// <summary>The model-driven validator words failures exactly as the Kinesis validator (and AWS) does.</summary>
public class ConstraintValidatorTests
{
    private static readonly ServiceModel Kinesis = ServiceModel.Get("kinesis");

    /// <summary>
    /// The constraints file ModelValidator uses (Model/kinesis-constraints.json, with Millrace's adjustments to the
    /// botocore model) recast as a service model, so the comparison isolates the validators from model drift.
    /// </summary>
    private static readonly Lazy<ServiceModel> KinesisConstraints = new(() =>
    {
        using var stream = typeof(ModelValidator).Assembly.GetManifestResourceStream(ModelValidator.ResourceName)!;
        var source = JsonNode.Parse(stream)!.AsObject();
        var shapes = new JsonObject();
        foreach (var (name, node) in source["shapes"]!.AsObject())
        {
            var shape = node!.DeepClone().AsObject();
            if (shape["members"] is JsonObject members)
            {
                shape["members"] = new JsonObject(members.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)new JsonObject { ["shape"] = m.Value!.GetValue<string>() })));
            }

            foreach (var key in new[] { "member", "key", "value" })
            {
                if (shape[key] is JsonValue target)
                {
                    shape[key] = new JsonObject { ["shape"] = target.GetValue<string>() };
                }
            }

            shapes[name] = shape;
        }

        var operations = new JsonObject();
        foreach (var (name, node) in source["operations"]!.AsObject())
        {
            var op = new JsonObject { ["name"] = name };
            if (node!["input"] is JsonValue input)
            {
                op["input"] = new JsonObject { ["shape"] = input.GetValue<string>() };
            }

            operations[name] = op;
        }

        var model = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["apiVersion"] = "2013-12-02", ["endpointPrefix"] = "kinesis", ["jsonVersion"] = "1.1", ["protocol"] = "json",
                ["targetPrefix"] = source["targetPrefix"]!.GetValue<string>(),
            },
            ["operations"] = operations,
            ["shapes"] = shapes,
        };
        return ServiceModel.Load(new MemoryStream(Encoding.UTF8.GetBytes(model.ToJsonString())));
    });

    public static TheoryData<string> CaseIds => GeneratedValidationCases.Ids();

    /// <summary>(error type, message) from the new layer: JSON parse (SerializationException) then constraints.</summary>
    private static (string? Type, string? Message) Run(ServiceModel model, string operation, string body)
    {
        var op = model.GetOperation(operation);
        try
        {
            var input = JsonBody.ReadStructure(op.Input, Encoding.UTF8.GetBytes(body));
            var message = ConstraintValidator.Validate(model, op.Input, input);
            return message is null ? (null, null) : ("ValidationException", message);
        }
        catch (ServiceException e)
        {
            return (e.Code, e.ErrorMessage);
        }
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void MatchesTheKinesisValidatorOnEveryGeneratedCase(string id)
    {
        var c = GeneratedValidationCases.Cases[id];
        using var document = JsonDocument.Parse(c.Body);
        var expected = ModelValidator.Kinesis.Validate(c.Operation, document.RootElement);
        var (type, message) = Run(KinesisConstraints.Value, c.Operation, c.Body);
        Assert.Equal(expected?.ErrorType, type);
        Assert.Equal(expected?.ErrorMessage, message);
    }

    [Theory]
    [InlineData("DescribeStream", """{"StreamName":""}""",
        "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        + "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1")]
    [InlineData("DescribeStream", """{"Limit":0}""",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1")]
    [InlineData("CreateStream", """{"StreamName":"a b","ShardCount":1}""",
        "1 validation error detected: Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")]
    [InlineData("PutRecords", """{"StreamName":"s","Records":[{"Data":"","PartitionKey":""}]}""",
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1")]
    [InlineData("GetShardIterator", """{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"NOPE"}""",
        "1 validation error detected: Value 'NOPE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")]
    public void KinesisWording(string operation, string body, string expected)
    {
        Assert.Equal(("ValidationException", expected), Run(Kinesis, operation, body));
        using var document = JsonDocument.Parse(body);
        Assert.Equal(expected, ModelValidator.Kinesis.Validate(operation, document.RootElement)?.ErrorMessage);
    }

    [Fact]
    public void SeveralErrorsAreCountedAndJoined()
    {
        var (_, message) = Run(Kinesis, "PutRecord", """{"StreamName":"","PartitionKey":""}""");
        Assert.Equal(
            "4 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
            + "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; "
            + "Value null at 'data' failed to satisfy constraint: Member must not be null; "
            + "Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
            message);
    }

    [Fact]
    public void BlobLengthsCountBytesAndMapsAndListsCountEntries()
    {
        var model = ServiceModel.Get("kinesis");
        var op = model.GetOperation("PutRecord");
        var input = new JsonObject { ["StreamName"] = "s", ["PartitionKey"] = "k", ["Data"] = ModelDocument.Blob(new byte[(10 * 1024 * 1024) + 1]) };
        Assert.Equal(
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 10485760",
            ConstraintValidator.Validate(model, op.Input, input));

        var tags = model.GetOperation("AddTagsToStream");
        var many = new JsonObject();
        for (var i = 0; i < 201; i++)
        {
            many["k" + i] = "v";
        }

        var message = ConstraintValidator.Validate(model, tags.Input, new JsonObject { ["StreamName"] = "s", ["Tags"] = many })!;
        Assert.StartsWith("1 validation error detected: Value '{k0=v, k1=v", message);
        Assert.EndsWith("' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 200", message);
    }

    [Fact]
    public void AtMostTenErrorsAreReported()
    {
        var model = ServiceModel.Get("kinesis");
        var records = new JsonArray();
        for (var i = 0; i < 12; i++)
        {
            records.Add(new JsonObject { ["Data"] = ModelDocument.Blob([]), ["PartitionKey"] = "" });
        }

        var message = ConstraintValidator.Validate(model, model.GetOperation("PutRecords").Input, new JsonObject { ["StreamName"] = "s", ["Records"] = records })!;
        Assert.StartsWith("10 validation errors detected: ", message);
        Assert.Contains("'records.10.member.partitionKey'", message);
        Assert.DoesNotContain("records.11", message);
    }

    [Fact]
    public void StsQueryWording()
    {
        var model = ServiceModel.Get("sts");
        var input = QueryForm.Read(model.GetOperation("AssumeRole").Input, ProtocolRequest.ParseQuery("Action=AssumeRole&RoleArn=arn&RoleSessionName=a%20b&DurationSeconds=1"));
        Assert.Equal(
            "3 validation errors detected: Value 'arn' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; "
            + "Value 'a b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*; "
            + "Value '1' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
            ConstraintValidator.Validate(model, model.GetOperation("AssumeRole").Input, input));
    }
}
