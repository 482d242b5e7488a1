namespace Millrace.Agent.Processing;

/// <summary>
/// One entry of a flow's <c>dataProcessingOptions</c>: turns a record (one line, or several with
/// <c>multiLineStartPattern</c>, including its trailing newline) into what is sent. Null filters the record out.
/// </summary>
internal interface IDataConverter
{
    byte[]? Convert(ReadOnlySpan<byte> record);
}

/// <summary>A configuration error: the message names the key (and the file, added by the caller); the agent exits 2.</summary>
public sealed class AgentConfigurationException(string message) : Exception(message);
