using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests;

/// <summary>The Glue Data Catalog on the one endpoint with a real client: the boto3 acceptance script tests/clients/python/glue_catalog.py.</summary>
public sealed class GlueClientTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    [Fact]
    public async Task Boto3GlueCatalogAcceptance()
    {
        var result = await ExternalTool.RunAsync(
            "python3",
            [S3TestSupport.ClientPath("python", "glue_catalog.py"), Server.Endpoint, "boto3_" + Guid.NewGuid().ToString("N")[..8]],
            S3TestSupport.PythonEnv,
            timeout: TimeSpan.FromSeconds(120));
        S3TestSupport.RequireChecks(Server, result, "glue_catalog.py", "databases", "tables", "get_tables", "versions", "errors");
    }
}
