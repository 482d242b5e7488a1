using Millrace.Gateway;
using System.Text.Json.Nodes;

namespace Millrace.Glue.Tests;

/// <summary>Every served Glue operation over HTTP, with AWS's errors, against the real SQLite store.</summary>
public sealed class GlueServiceTests : IAsyncLifetime
{
    private GlueTestServer _server = null!;

    public async Task InitializeAsync() => _server = await GlueTestServers.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static JsonObject TableInput(string name, params (string Name, string Type)[] columns) => new()
    {
        ["Name"] = name,
        ["TableType"] = "EXTERNAL_TABLE",
        ["Parameters"] = new JsonObject { ["classification"] = "parquet" },
        ["PartitionKeys"] = new JsonArray(new JsonObject { ["Name"] = "dt", ["Type"] = "string" }),
        ["StorageDescriptor"] = new JsonObject
        {
            ["Location"] = "s3://bucket/" + name + "/",
            ["Columns"] = new JsonArray(columns.Select(c => (JsonNode?)new JsonObject { ["Name"] = c.Name, ["Type"] = c.Type, ["Comment"] = "the " + c.Name }).ToArray()),
            ["SerdeInfo"] = new JsonObject { ["SerializationLibrary"] = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" },
        },
    };

    [Fact]
    public async Task DatabasesAreCreatedFoldedPagedUpdatedAndDeleted()
    {
        foreach (var name in new[] { "Sales", "events", "Archive" })
        {
            await _server.OkAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = name, ["Description"] = "db " + name } });
        }

        Assert.Equal((400, "AlreadyExistsException", "Database already exists."),
            await _server.ErrorAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = "sales" } }));

        var sales = (await _server.OkAsync("GetDatabase", new JsonObject { ["Name"] = "SALES" }))["Database"]!;
        Assert.Equal("sales", sales["Name"]!.GetValue<string>());
        Assert.Equal("db Sales", sales["Description"]!.GetValue<string>());
        Assert.Equal("123456789012", sales["CatalogId"]!.GetValue<string>());
        Assert.True(sales["CreateTime"]!.GetValue<double>() > 1_000_000_000);

        var first = await _server.OkAsync("GetDatabases", new JsonObject { ["MaxResults"] = 2 });
        Assert.Equal(["archive", "events"], Names(first["DatabaseList"]!));
        var second = await _server.OkAsync("GetDatabases", new JsonObject { ["MaxResults"] = 2, ["NextToken"] = first["NextToken"]!.GetValue<string>() });
        Assert.Equal(["sales"], Names(second["DatabaseList"]!));
        Assert.Null(second["NextToken"]);

        await _server.OkAsync("UpdateDatabase", new JsonObject { ["Name"] = "sales", ["DatabaseInput"] = new JsonObject { ["Name"] = "sales", ["Description"] = "changed" } });
        Assert.Equal("changed", (await _server.OkAsync("GetDatabase", new JsonObject { ["Name"] = "sales" }))["Database"]!["Description"]!.GetValue<string>());

        await _server.OkAsync("DeleteDatabase", new JsonObject { ["Name"] = "sales" });
        Assert.Equal((400, "EntityNotFoundException", "Database sales not found."), await _server.ErrorAsync("GetDatabase", new JsonObject { ["Name"] = "sales" }));
        Assert.Equal((400, "EntityNotFoundException", "Database nope not found."), await _server.ErrorAsync("DeleteDatabase", new JsonObject { ["Name"] = "nope" }));
        Assert.Equal((400, "EntityNotFoundException", "Database nope not found."),
            await _server.ErrorAsync("UpdateDatabase", new JsonObject { ["Name"] = "nope", ["DatabaseInput"] = new JsonObject { ["Name"] = "nope" } }));
        var invalid = await _server.ErrorAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = "" } });
        Assert.Equal((400, "InvalidInputException"), (invalid.Status, invalid.Type));
    }

    [Fact]
    public async Task TablesKeepTheirInputVerbatimAndVersionOnUpdate()
    {
        await _server.OkAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = "lake" } });
        var created = _server.Clock.NowMs;
        await _server.OkAsync("CreateTable", new JsonObject { ["DatabaseName"] = "Lake", ["TableInput"] = TableInput("Clicks", ("UserId", "bigint"), ("tags", "array<string>")) });
        Assert.Equal((400, "AlreadyExistsException", "Table already exists."),
            await _server.ErrorAsync("CreateTable", new JsonObject { ["DatabaseName"] = "lake", ["TableInput"] = TableInput("clicks") }));
        Assert.Equal((400, "EntityNotFoundException", "Database nodb not found."),
            await _server.ErrorAsync("CreateTable", new JsonObject { ["DatabaseName"] = "nodb", ["TableInput"] = TableInput("t") }));

        var table = (await _server.OkAsync("GetTable", new JsonObject { ["DatabaseName"] = "lake", ["Name"] = "CLICKS" }))["Table"]!;
        Assert.Equal("clicks", table["Name"]!.GetValue<string>());
        Assert.Equal("lake", table["DatabaseName"]!.GetValue<string>());
        Assert.Equal("1", table["VersionId"]!.GetValue<string>());
        Assert.Equal("EXTERNAL_TABLE", table["TableType"]!.GetValue<string>());
        Assert.Equal("parquet", table["Parameters"]!["classification"]!.GetValue<string>());
        Assert.Equal("dt", table["PartitionKeys"]![0]!["Name"]!.GetValue<string>());
        var columns = table["StorageDescriptor"]!["Columns"]!.AsArray();
        Assert.Equal(("UserId", "bigint", "the UserId"), (columns[0]!["Name"]!.GetValue<string>(), columns[0]!["Type"]!.GetValue<string>(), columns[0]!["Comment"]!.GetValue<string>()));
        Assert.Equal(created / 1000.0, table["CreateTime"]!.GetValue<double>(), 3);

        _server.Clock.Now = _server.Clock.Now.AddMinutes(5);
        await _server.OkAsync("UpdateTable", new JsonObject { ["DatabaseName"] = "lake", ["TableInput"] = TableInput("clicks", ("userid", "bigint"), ("score", "double")) });
        var updated = (await _server.OkAsync("GetTable", new JsonObject { ["DatabaseName"] = "lake", ["Name"] = "clicks" }))["Table"]!;
        Assert.Equal("2", updated["VersionId"]!.GetValue<string>());
        Assert.Equal(created / 1000.0, updated["CreateTime"]!.GetValue<double>(), 3);
        Assert.Equal(_server.Clock.NowMs / 1000.0, updated["UpdateTime"]!.GetValue<double>(), 3);

        var versions = await _server.OkAsync("GetTableVersions", new JsonObject { ["DatabaseName"] = "lake", ["TableName"] = "clicks" });
        Assert.Equal(["2", "1"], versions["TableVersions"]!.AsArray().Select(v => v!["VersionId"]!.GetValue<string>()));
        var v1 = (await _server.OkAsync("GetTableVersion", new JsonObject { ["DatabaseName"] = "lake", ["TableName"] = "clicks", ["VersionId"] = "1" }))["TableVersion"]!;
        Assert.Equal("tags", v1["Table"]!["StorageDescriptor"]!["Columns"]![1]!["Name"]!.GetValue<string>());
        Assert.Equal((400, "EntityNotFoundException", "Version not found."),
            await _server.ErrorAsync("GetTableVersion", new JsonObject { ["DatabaseName"] = "lake", ["TableName"] = "clicks", ["VersionId"] = "9" }));

        // UpdateTable's VersionId is the version the caller last read.
        var stale = await _server.ErrorAsync("UpdateTable", new JsonObject { ["DatabaseName"] = "lake", ["VersionId"] = "1", ["TableInput"] = TableInput("clicks") });
        Assert.Equal((400, "ConcurrentModificationException"), (stale.Status, stale.Type));
        Assert.Equal((400, "EntityNotFoundException", "Table nope not found."),
            await _server.ErrorAsync("UpdateTable", new JsonObject { ["DatabaseName"] = "lake", ["TableInput"] = TableInput("nope") }));

        var schema = await _server.Service.GetTableSchemaAsync(null, "LAKE", "Clicks", null, CancellationToken.None);
        Assert.Equal("2", schema!.VersionId);
        Assert.Equal([new TableColumn("userid", "bigint"), new TableColumn("score", "double")], schema.Columns);
        var old = await _server.Service.GetTableSchemaAsync("123456789012", "lake", "clicks", "1", CancellationToken.None);
        Assert.Equal([new TableColumn("UserId", "bigint"), new TableColumn("tags", "array<string>")], old!.Columns);
        Assert.Null(await _server.Service.GetTableSchemaAsync(null, "lake", "clicks", "7", CancellationToken.None));
        Assert.Null(await _server.Service.GetTableSchemaAsync(null, "lake", "nope", "LATEST", CancellationToken.None));
        Assert.Null(await _server.Service.GetTableSchemaAsync("999999999999", "lake", "clicks", null, CancellationToken.None));

        await _server.OkAsync("DeleteTable", new JsonObject { ["DatabaseName"] = "lake", ["Name"] = "clicks" });
        Assert.Equal((400, "EntityNotFoundException", "Table clicks not found."),
            await _server.ErrorAsync("GetTable", new JsonObject { ["DatabaseName"] = "lake", ["Name"] = "clicks" }));
        Assert.Equal((400, "EntityNotFoundException", "Table clicks not found."),
            await _server.ErrorAsync("DeleteTable", new JsonObject { ["DatabaseName"] = "lake", ["Name"] = "clicks" }));
        Assert.Equal((400, "EntityNotFoundException", "Database nodb not found."),
            await _server.ErrorAsync("GetTable", new JsonObject { ["DatabaseName"] = "nodb", ["Name"] = "clicks" }));
    }

    [Fact]
    public async Task GetTablesFiltersByExpressionAndPages()
    {
        await _server.OkAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = "lake" } });
        foreach (var name in new[] { "abc", "abd", "xyz", "ab_1", "other" })
        {
            await _server.OkAsync("CreateTable", new JsonObject { ["DatabaseName"] = "lake", ["TableInput"] = TableInput(name) });
        }

        async Task<List<string>> All(string? expression, int pageSize)
        {
            var names = new List<string>();
            string? token = null;
            do
            {
                var input = new JsonObject { ["DatabaseName"] = "lake", ["MaxResults"] = pageSize };
                if (expression is not null)
                {
                    input["Expression"] = expression;
                }

                if (token is not null)
                {
                    input["NextToken"] = token;
                }

                var page = await _server.OkAsync("GetTables", input);
                Assert.True(page["TableList"]!.AsArray().Count <= pageSize);
                names.AddRange(Names(page["TableList"]!));
                token = page["NextToken"]?.GetValue<string>();
            }
            while (token is not null);
            return names;
        }

        Assert.Equal(["ab_1", "abc", "abd", "other", "xyz"], await All(null, 2));
        Assert.Equal(["ab_1", "abc", "abd"], await All("ab*", 2));
        Assert.Equal(["abc", "abd", "xyz"], await All("ab[cd]|xyz", 1));
        Assert.Equal(["other"], await All("OTH.*", 10));
        Assert.Equal((400, "EntityNotFoundException", "Database nodb not found."), await _server.ErrorAsync("GetTables", new JsonObject { ["DatabaseName"] = "nodb" }));
        Assert.Equal("InvalidInputException", (await _server.ErrorAsync("GetTables", new JsonObject { ["DatabaseName"] = "lake", ["Expression"] = "ab(" })).Type);

        // Deleting the database deletes its tables.
        await _server.OkAsync("DeleteDatabase", new JsonObject { ["Name"] = "lake" });
        await _server.OkAsync("CreateDatabase", new JsonObject { ["DatabaseInput"] = new JsonObject { ["Name"] = "lake" } });
        Assert.Empty(await All(null, 10));
    }

    [Fact]
    public async Task TheCatalogSurvivesAReopen()
    {
        var directory = Path.Combine(Path.GetTempPath(), "millrace-glue-reopen-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var store = Millrace.Storage.Catalog.SqliteCatalogStore.Open(directory))
            {
                Assert.True(await store.CreateDatabaseAsync("1", "durable", """{"Name":"durable"}""", 5));
                await store.CreateTableAsync("1", "durable", "t", """{"Name":"t"}""", 6);
                await store.UpdateTableAsync("1", "durable", "t", """{"Name":"t","Owner":"o"}""", 7, expectedVersion: 1, archive: true);
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using var reopened = Millrace.Storage.Catalog.SqliteCatalogStore.Open(directory);
            var (_, table) = await reopened.GetTableAsync("1", "durable", "t");
            Assert.Equal((2L, 6L, 7L, """{"Name":"t","Owner":"o"}"""), (table!.VersionId, table.CreateTimeMs, table.UpdateTimeMs, table.InputJson));
            Assert.Equal(2, (await reopened.ListTableVersionsAsync("1", "durable", "t")).Versions.Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static List<string> Names(JsonNode list) => list.AsArray().Select(d => d!["Name"]!.GetValue<string>()).ToList();
}
