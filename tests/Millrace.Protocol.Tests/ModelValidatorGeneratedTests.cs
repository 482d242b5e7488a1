using System.Text.Json;

namespace Millrace.Protocol.Tests;

public class ModelValidatorGeneratedTests
{
    public static TheoryData<string> CaseIds => GeneratedValidationCases.Ids();

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void GeneratedCase(string id)
    {
        var c = GeneratedValidationCases.Cases[id];
        using var document = JsonDocument.Parse(c.Body);
        var error = ModelValidator.Kinesis.Validate(c.Operation, document.RootElement);
        if (c.ErrorType is null)
        {
            Assert.Null(error?.ErrorMessage);
            Assert.Null(error);
            return;
        }

        Assert.NotNull(error);
        Assert.Equal(c.ErrorType, error.ErrorType);
        if (c.Message is not null)
        {
            Assert.Equal(c.Message, error.ErrorMessage);
        }

        if (c.MessageEnd is not null)
        {
            Assert.StartsWith("1 validation error detected: Value '[", error.ErrorMessage);
            Assert.EndsWith(c.MessageEnd, error.ErrorMessage);
        }
    }

    [Fact]
    public void EveryOperationHasCases()
    {
        foreach (var op in ModelValidator.Kinesis.Operations)
        {
            Assert.Contains(GeneratedValidationCases.Cases.Values, c => c.Operation == op);
        }

        Assert.Equal(40, ModelValidator.Kinesis.Operations.Count);
    }
}
