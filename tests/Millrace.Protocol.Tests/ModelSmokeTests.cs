using System.Text.Json.Nodes;
using Millrace.Protocol.Models;
using Millrace.Protocol.Wire;

namespace Millrace.Protocol.Tests;

/// <summary>Every operation of every embedded model parses an empty request and writes an empty output and an error in each of its protocols.</summary>
public class ModelSmokeTests
{
    public static TheoryData<string> Names() => ServiceModelTests.Names();

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryOperationRoundTripsEmptyDocuments(string name)
    {
        var model = ServiceModel.Get(name);
        var dispatcher = new ModelDispatcher(model, new Dictionary<string, OperationHandler>());
        foreach (var codec in dispatcher.Codecs)
        {
            foreach (var op in model.Operations.Values)
            {
                var request = new ProtocolRequest { Method = op.HttpMethod, Path = "/" };
                try
                {
                    var input = codec.ParseInput(op, request);
                    ConstraintValidator.Validate(model, op.Input, input);
                }
                catch (ServiceException)
                {
                    // A wire-level rejection is a fine answer to an empty request.
                }

                var output = codec.WriteOutput(op, request, [], "rid");
                Assert.True(output.Status is >= 200 and < 300, $"{name} {codec.Protocol} {op.Name}: {output.Status}");
                var error = codec.WriteError(op, request, new ServiceException("InternalFailure", "boom", 500), "rid");
                Assert.Equal(500, error.Status);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void EveryOperationWritesAFullyPopulatedOutput(string name)
    {
        var model = ServiceModel.Get(name);
        var dispatcher = new ModelDispatcher(model, new Dictionary<string, OperationHandler>());
        foreach (var codec in dispatcher.Codecs)
        {
            foreach (var op in model.Operations.Values)
            {
                if (op.Output is null)
                {
                    continue;
                }

                var document = (JsonObject)Sample(op.Output, 0)!;
                var response = codec.WriteOutput(op, new ProtocolRequest { Method = op.HttpMethod, Path = "/" }, document, "rid");
                Assert.True(response.Status is >= 100 and < 600, $"{name} {codec.Protocol} {op.Name}");
            }
        }
    }

    /// <summary>A value for every member, two levels deep.</summary>
    internal static JsonNode? Sample(ShapeModel shape, int depth) => shape.Type switch
    {
        ShapeType.Structure => depth > 3 ? new JsonObject() : new JsonObject(shape.Members
            .Where(m => m.Shape.Type != ShapeType.Structure || !m.Shape.EventStream)
            .Select(m => KeyValuePair.Create(m.Name, m.Location == "statusCode" ? JsonValue.Create(200) : Sample(m.Shape, depth + 1)))),
        ShapeType.List => depth > 3 ? new JsonArray() : new JsonArray(Sample(shape.ListMember!.Shape, depth + 1)),
        ShapeType.Map => depth > 3 ? new JsonObject() : new JsonObject { ["k"] = Sample(shape.MapValue!.Shape, depth + 1) },
        ShapeType.String => shape.Enum?[0] ?? "text",
        ShapeType.Integer or ShapeType.Long => 7,
        ShapeType.Float or ShapeType.Double => 1.5,
        ShapeType.Boolean => true,
        ShapeType.Blob => ModelDocument.Blob([1, 2, 3]),
        ShapeType.Timestamp => ModelDocument.Timestamp(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero)),
        _ => new JsonObject { ["any"] = 1 },
    };
}
