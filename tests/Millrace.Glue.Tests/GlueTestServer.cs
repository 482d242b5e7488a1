global using GlueTestServer = Millrace.Tests.Shared.JsonServiceTestServer<Millrace.Storage.Catalog.SqliteCatalogStore, Millrace.Glue.GlueService>;
using Millrace.Storage.Catalog;
using Millrace.Tests.Shared;

namespace Millrace.Glue.Tests;

/// <summary>The Glue service over a real SQLite catalog store, on the shared JSON test server.</summary>
internal static class GlueTestServers
{
    public static Task<GlueTestServer> StartAsync() => GlueTestServer.StartAsync("glue", "AWSGlue", SqliteCatalogStore.Open, (store, clock) =>
    {
        var service = new GlueService(store, new GlueOptions { Region = "us-east-1", AccountId = "123456789012", Clock = clock });
        return (service, service.Endpoint);
    });
}
