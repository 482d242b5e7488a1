using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Protocol.Tests;

public class ServiceModelTests
{
    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var name in ServiceModel.EmbeddedNames)
        {
            data.Add(name);
        }

        return data;
    }

    [Fact]
    public void EveryServiceIsEmbedded() =>
        Assert.Equal(["cloudwatch", "dynamodb", "firehose", "glue", "iam", "kinesis", "kinesisanalytics", "lambda", "logs", "s3", "sts"], ServiceModel.EmbeddedNames);

    [Theory]
    [MemberData(nameof(Names))]
    public void LoadsWithItsProtocolsAndEveryPatternCompiles(string name)
    {
        var model = ServiceModel.Get(name);
        Assert.Same(model, ServiceModel.Get(name));
        Assert.NotEmpty(model.Operations);
        Assert.Contains(model.Protocol, model.Protocols);
        foreach (var op in model.Operations.Values)
        {
            Assert.Same(model, op.Service);
        }

        Assert.NotEmpty(new ModelDispatcher(model, new Dictionary<string, OperationHandler>()).Codecs);

        foreach (var shape in model.Shapes.Values)
        {
            if (shape.Pattern is { } pattern)
            {
                // Compiles (or deliberately falls back); must not throw.
                ConstraintValidator.Compile(pattern).IsMatch("x");
            }
        }
    }

    [Fact]
    public void MetadataAndOperationBindings()
    {
        var cw = ServiceModel.Get("cloudwatch");
        Assert.Equal(["smithy-rpc-v2-cbor", "json", "query"], cw.Protocols);
        Assert.Equal("GraniteServiceVersion20100801", cw.TargetPrefix);
        Assert.Equal("monitoring", cw.SigningName);
        Assert.True(cw.AwsQueryCompatible);
        Assert.Equal("ListMetricsResult", cw.GetOperation("ListMetrics").ResultWrapper);
        var error = cw.FindError("InvalidParameterValue")!;
        Assert.Equal("InvalidParameterValueException", error.Name);
        Assert.Equal(400, error.ErrorStatus);

        var kinesis = ServiceModel.Get("kinesis");
        Assert.Equal("Kinesis_20131202", kinesis.TargetPrefix);
        Assert.Equal("1.1", kinesis.JsonVersion);
        // Members keep model order (the order AWS reports validation errors in).
        Assert.Equal(["Records", "StreamName", "StreamARN", "StreamId"], kinesis.GetOperation("PutRecords").Input!.Members.Select(m => m.Name));

        var lambda = ServiceModel.Get("lambda");
        var invoke = lambda.GetOperation("Invoke");
        Assert.Equal("/2015-03-31/functions/{FunctionName}/invocations", invoke.RequestUri);
        Assert.Equal("/2015-03-31/functions", invoke.LiteralPathPrefix);
        Assert.Equal("Payload", invoke.Input!.Payload);
        Assert.Equal("header", invoke.Input.FindMember("InvocationType")!.Location);
        Assert.Equal("X-Amz-Invocation-Type", invoke.Input.FindMember("InvocationType")!.LocationName);
        Assert.Equal("statusCode", invoke.Output!.FindMember("StatusCode")!.Location);

        var s3 = ServiceModel.Get("s3");
        Assert.Equal("rest-xml", s3.Protocol);
        Assert.True(s3.GetShape("ListObjectsV2Output").FindMember("Contents")!.IsFlattened);
        Assert.Equal("/{Bucket}/{Key+}", s3.GetOperation("GetObject").RequestUri);
        Assert.Equal("/{Bucket}?tagging", s3.GetOperation("GetBucketTagging").RequestUri);
    }
}
