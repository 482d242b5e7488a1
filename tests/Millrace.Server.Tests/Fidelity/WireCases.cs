namespace Millrace.Server.Tests.Fidelity;

/// <summary>Errors every JSON operation can return (envelope, body and authentication).</summary>
public sealed class WireCases : FidelityCaseFamily
{
    public override IEnumerable<FidelityCase> Cases()
    {
        yield return new("Wire.UnknownOperation", "DescribeEverything")
        {
            Source = "4.3: Unknown operation",
            Request = _ => "{}",
            ExpectedType = "UnknownOperationException",
            Message = null,
        };
        yield return new("Wire.EmptyBody", "ListStreams")
        {
            Source = "section 2: missing body",
            Request = _ => "",
            ExpectedType = "SerializationException",
            Message = null,
        };
        yield return new("Wire.MalformedJson", "ListStreams")
        {
            Source = "section 2: body that is not JSON",
            Request = _ => "{\"Limit\":",
            ExpectedType = "SerializationException",
            Message = null,
        };
        yield return new("Wire.MissingAuthentication", "ListStreams")
        {
            Source = "section 2: no auth",
            Unsigned = true,
            Request = _ => "{}",
            ExpectedType = "MissingAuthenticationTokenException",
            Message = "Missing Authentication Token",
        };
    }
}
