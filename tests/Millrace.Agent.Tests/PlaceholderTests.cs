namespace Millrace.Agent.Tests;

public sealed class ConfigurationExceptionTests
{
    [Fact]
    public void Carries_its_message() => Assert.Equal("flows[0].filePattern is required", new AgentConfigurationException("flows[0].filePattern is required").Message);
}
