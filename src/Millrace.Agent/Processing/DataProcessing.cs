using System.Text.Json.Nodes;

namespace Millrace.Agent.Processing;

// STUB until the converters land.
internal static class DataProcessing
{
    public static IReadOnlyList<IDataConverter> Parse(JsonArray? options, string path) =>
        options is null || options.Count == 0 ? [] : throw new AgentConfigurationException($"{path}: not yet");
}
