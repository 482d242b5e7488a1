global using LogsTestServer = Millrace.Tests.Shared.JsonServiceTestServer<Millrace.Storage.Logs.SqliteLogStore, Millrace.Logs.LogsService>;
using Millrace.Storage.Logs;
using Millrace.Tests.Shared;

namespace Millrace.Logs.Tests;

/// <summary>The Logs service over a real SQLite log store, on the shared JSON test server.</summary>
internal static class LogsTestServers
{
    public static Task<LogsTestServer> StartAsync() => LogsTestServer.StartAsync("logs", "Logs_20140328", SqliteLogStore.Open, (store, clock) =>
    {
        var service = new LogsService(store, new LogsOptions { Region = "us-east-1", AccountId = "123456789012", Clock = clock });
        return (service, service.Endpoint);
    });
}
