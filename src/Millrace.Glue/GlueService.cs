using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage.Catalog;

namespace Millrace.Glue;

/// <summary>Where the Glue service runs: the account that is the default catalog, and its clock.</summary>
public sealed class GlueOptions
{
    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    public TimeProvider Clock { get; init; } = TimeProvider.System;
}

/// <summary>
/// The AWS Glue Data Catalog subset (AWSGlue, JSON 1.1) over a <see cref="SqliteCatalogStore"/>: databases, tables
/// (TableInput kept verbatim) and table versions. Names are folded to lower case as Glue does for Hive compatibility.
/// Parsing, validation and serialization come from the embedded model.
/// </summary>
public sealed class GlueService : ITableSchemas
{
    private const int DefaultPageSize = 100;

    private readonly SqliteCatalogStore _store;
    private readonly GlueOptions _options;

    public GlueService(SqliteCatalogStore store, GlueOptions? options = null)
    {
        _store = store;
        _options = options ?? new GlueOptions();
        Endpoint = new ModelService("glue", null, new ModelServiceOptions { ValidationErrorCode = "InvalidInputException" })
            .OnAsync("CreateDatabase", CreateDatabaseAsync)
            .OnAsync("GetDatabase", GetDatabaseAsync)
            .OnAsync("GetDatabases", GetDatabasesAsync)
            .OnAsync("UpdateDatabase", UpdateDatabaseAsync)
            .OnAsync("DeleteDatabase", DeleteDatabaseAsync)
            .OnAsync("CreateTable", CreateTableAsync)
            .OnAsync("GetTable", GetTableAsync)
            .OnAsync("GetTables", GetTablesAsync)
            .OnAsync("UpdateTable", UpdateTableAsync)
            .OnAsync("DeleteTable", DeleteTableAsync)
            .OnAsync("GetTableVersion", GetTableVersionAsync)
            .OnAsync("GetTableVersions", GetTableVersionsAsync);
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    private long Now => _options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    // ---- in-process API (Firehose's format conversion reads schemas here, never over HTTP) ----

    /// <inheritdoc/>
    public async ValueTask<TableSchema?> GetTableSchemaAsync(string? catalogId, string database, string table, string? versionId,
        CancellationToken cancellationToken = default)
    {
        var catalog = catalogId ?? _options.AccountId;
        database = Fold(database);
        table = Fold(table);
        CatalogTableRecord? record;
        if (versionId is null || versionId.Equals("LATEST", StringComparison.OrdinalIgnoreCase))
        {
            record = (await _store.GetTableAsync(catalog, database, table, cancellationToken)).Table;
        }
        else
        {
            var (_, versions) = await _store.ListTableVersionsAsync(catalog, database, table, cancellationToken);
            record = long.TryParse(versionId, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? versions.FirstOrDefault(x => x.VersionId == v) : null;
        }

        if (record is null)
        {
            return null;
        }

        var input = JsonNode.Parse(record.InputJson)!.AsObject();
        var columns = (input["StorageDescriptor"]?["Columns"] as JsonArray ?? [])
            .Select(c => new TableColumn(c!["Name"]!.GetValue<string>(), c["Type"]?.GetValue<string>() ?? "string"))
            .ToList();
        return new TableSchema(catalog, database, table, record.VersionId.ToString(CultureInfo.InvariantCulture), columns);
    }

    // ---- databases ----

    private async Task<JsonObject?> CreateDatabaseAsync(JsonObject input, OperationContext ctx)
    {
        var databaseInput = (JsonObject)input["DatabaseInput"]!.DeepClone();
        var name = Fold(Text(databaseInput, "Name")!);
        databaseInput["Name"] = name;
        if (!await _store.CreateDatabaseAsync(Catalog(input), name, databaseInput.ToJsonString(), Now, ctx.Cancellation))
        {
            throw new ServiceException("AlreadyExistsException", "Database already exists.");
        }

        return new JsonObject();
    }

    private async Task<JsonObject?> GetDatabaseAsync(JsonObject input, OperationContext ctx)
    {
        var name = Fold(Text(input, "Name")!);
        var record = await _store.GetDatabaseAsync(Catalog(input), name, ctx.Cancellation) ?? throw NoSuchDatabase(name);
        return new JsonObject { ["Database"] = DatabaseJson(record) };
    }

    private async Task<JsonObject?> GetDatabasesAsync(JsonObject input, OperationContext ctx)
    {
        var limit = PageSize(input);
        var page = await _store.ListDatabasesAsync(Catalog(input), DecodeToken(Text(input, "NextToken")), limit + 1, ctx.Cancellation);
        var output = new JsonObject { ["DatabaseList"] = new JsonArray(page.Take(limit).Select(d => (JsonNode?)DatabaseJson(d)).ToArray()) };
        if (page.Count > limit)
        {
            output["NextToken"] = EncodeToken(page[limit - 1].Name);
        }

        return output;
    }

    private async Task<JsonObject?> UpdateDatabaseAsync(JsonObject input, OperationContext ctx)
    {
        var name = Fold(Text(input, "Name")!);
        var databaseInput = (JsonObject)input["DatabaseInput"]!.DeepClone();

        // The database keeps its name: Glue cannot rename one.
        databaseInput["Name"] = name;
        if (!await _store.UpdateDatabaseAsync(Catalog(input), name, databaseInput.ToJsonString(), ctx.Cancellation))
        {
            throw NoSuchDatabase(name);
        }

        return new JsonObject();
    }

    private async Task<JsonObject?> DeleteDatabaseAsync(JsonObject input, OperationContext ctx)
    {
        var name = Fold(Text(input, "Name")!);
        if (!await _store.DeleteDatabaseAsync(Catalog(input), name, ctx.Cancellation))
        {
            throw NoSuchDatabase(name);
        }

        return new JsonObject();
    }

    // ---- tables ----

    private async Task<JsonObject?> CreateTableAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var tableInput = TableInputOf(input, Text(input, "Name"));
        var name = Text(tableInput, "Name")!;
        Require(await _store.CreateTableAsync(Catalog(input), database, name, tableInput.ToJsonString(), Now, ctx.Cancellation), database, name);
        return new JsonObject();
    }

    private async Task<JsonObject?> GetTableAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var name = Fold(Text(input, "Name")!);
        var (outcome, table) = await _store.GetTableAsync(Catalog(input), database, name, ctx.Cancellation);
        Require(outcome, database, name);
        return new JsonObject { ["Table"] = TableJson(table!) };
    }

    private async Task<JsonObject?> GetTablesAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var tables = await _store.ListTablesAsync(Catalog(input), database, ctx.Cancellation) ?? throw NoSuchDatabase(database);
        var filter = ExpressionOf(Text(input, "Expression"));
        var after = DecodeToken(Text(input, "NextToken"));
        var limit = PageSize(input);
        var matching = tables.Where(t => (after is null || string.CompareOrdinal(t.Name, after) > 0) && (filter?.IsMatch(t.Name) ?? true)).Take(limit + 1).ToList();
        var output = new JsonObject { ["TableList"] = new JsonArray(matching.Take(limit).Select(t => (JsonNode?)TableJson(t)).ToArray()) };
        if (matching.Count > limit)
        {
            output["NextToken"] = EncodeToken(matching[limit - 1].Name);
        }

        return output;
    }

    private async Task<JsonObject?> UpdateTableAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var tableInput = TableInputOf(input, Text(input, "Name"));
        var name = Text(tableInput, "Name")!;
        long? expected = null;
        if (Text(input, "VersionId") is { } versionText)
        {
            expected = long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : throw Invalid("Version id is not a valid number.");
        }

        var archive = !(input["SkipArchive"] is JsonValue skip && skip.TryGetValue<bool>(out var s) && s);
        var outcome = await _store.UpdateTableAsync(Catalog(input), database, name, tableInput.ToJsonString(), Now, expected, archive, ctx.Cancellation);
        if (outcome == CatalogOutcome.VersionMismatch)
        {
            throw new ServiceException("ConcurrentModificationException", $"Update table failed due to concurrent modifications. Table {name} has been modified since version {expected}.");
        }

        Require(outcome, database, name);
        return new JsonObject();
    }

    private async Task<JsonObject?> DeleteTableAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var name = Fold(Text(input, "Name")!);
        Require(await _store.DeleteTableAsync(Catalog(input), database, name, ctx.Cancellation), database, name);
        return new JsonObject();
    }

    private async Task<JsonObject?> GetTableVersionAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var name = Fold(Text(input, "TableName")!);
        var (outcome, versions) = await _store.ListTableVersionsAsync(Catalog(input), database, name, ctx.Cancellation);
        Require(outcome, database, name);
        var versionId = Text(input, "VersionId");
        var version = versionId is null
            ? versions.FirstOrDefault()
            : long.TryParse(versionId, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
                ? versions.FirstOrDefault(x => x.VersionId == v)
                : throw Invalid("Version id is not a valid number.");
        if (version is null)
        {
            throw new ServiceException("EntityNotFoundException", "Version not found.");
        }

        return new JsonObject { ["TableVersion"] = VersionJson(version) };
    }

    private async Task<JsonObject?> GetTableVersionsAsync(JsonObject input, OperationContext ctx)
    {
        var database = Fold(Text(input, "DatabaseName")!);
        var name = Fold(Text(input, "TableName")!);
        var (outcome, versions) = await _store.ListTableVersionsAsync(Catalog(input), database, name, ctx.Cancellation);
        Require(outcome, database, name);
        var limit = PageSize(input);
        var after = DecodeToken(Text(input, "NextToken"));
        var afterVersion = after is null ? long.MaxValue : long.TryParse(after, CultureInfo.InvariantCulture, out var a) ? a : throw InvalidToken();
        var page = versions.Where(v => v.VersionId < afterVersion).Take(limit + 1).ToList();
        var output = new JsonObject { ["TableVersions"] = new JsonArray(page.Take(limit).Select(v => (JsonNode?)VersionJson(v)).ToArray()) };
        if (page.Count > limit)
        {
            output["NextToken"] = EncodeToken(page[limit - 1].VersionId.ToString(CultureInfo.InvariantCulture));
        }

        return output;
    }

    // ---- documents ----

    private static JsonObject DatabaseJson(CatalogDatabaseRecord d)
    {
        var json = JsonNode.Parse(d.InputJson)!.AsObject();
        json["CreateTime"] = DateTimeOffset.FromUnixTimeMilliseconds(d.CreateTimeMs);
        json["CatalogId"] = d.CatalogId;
        return json;
    }

    private static JsonObject TableJson(CatalogTableRecord t)
    {
        var json = JsonNode.Parse(t.InputJson)!.AsObject();
        json["DatabaseName"] = t.Database;
        json["CreateTime"] = DateTimeOffset.FromUnixTimeMilliseconds(t.CreateTimeMs);
        json["UpdateTime"] = DateTimeOffset.FromUnixTimeMilliseconds(t.UpdateTimeMs);
        json["IsRegisteredWithLakeFormation"] = false;
        json["CatalogId"] = t.CatalogId;
        json["VersionId"] = t.VersionId.ToString(CultureInfo.InvariantCulture);
        return json;
    }

    private static JsonObject VersionJson(CatalogTableRecord t) => new()
    {
        ["Table"] = TableJson(t),
        ["VersionId"] = t.VersionId.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The request's TableInput with its name folded (the request's Name, when given, names the table too).</summary>
    private static JsonObject TableInputOf(JsonObject input, string? requestName)
    {
        if (input["TableInput"] is not JsonObject tableInput)
        {
            throw Invalid("TableInput is required.");
        }

        tableInput = (JsonObject)tableInput.DeepClone();
        tableInput["Name"] = Fold(Text(tableInput, "Name") ?? requestName ?? throw Invalid("Table name is required."));
        return tableInput;
    }

    // ---- helpers ----

    private string Catalog(JsonObject input) => Text(input, "CatalogId") ?? _options.AccountId;

    /// <summary>Glue folds database and table names to lower case when it stores them (Hive compatibility).</summary>
    private static string Fold(string name) => name.ToLowerInvariant();

    /// <summary>
    /// GetTables' Expression: a regular expression the whole name must match, where a bare <c>*</c> (Glue's wildcard)
    /// means any run of characters.
    /// </summary>
    private static Regex? ExpressionOf(string? expression)
    {
        if (string.IsNullOrEmpty(expression))
        {
            return null;
        }

        var pattern = new StringBuilder();
        for (var i = 0; i < expression.Length; i++)
        {
            var c = expression[i];
            pattern.Append(c == '*' && (i == 0 || expression[i - 1] is not ('.' or '\\' or ')' or ']')) ? ".*" : c.ToString());
        }

        try
        {
            return new Regex($"^(?:{pattern})$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            throw Invalid($"Expression {expression} is not a valid regular expression.");
        }
    }

    private static int PageSize(JsonObject input) =>
        input["MaxResults"] is JsonValue v
            ? v.TryGetValue<int>(out var i) ? i : v.TryGetValue<long>(out var l) ? (int)l : v.TryGetValue<double>(out var d) ? (int)d : DefaultPageSize
            : DefaultPageSize;

    private static void Require(CatalogOutcome outcome, string database, string table)
    {
        switch (outcome)
        {
            case CatalogOutcome.NoSuchDatabase:
                throw NoSuchDatabase(database);
            case CatalogOutcome.NoSuchTable:
                throw new ServiceException("EntityNotFoundException", $"Table {table} not found.");
            case CatalogOutcome.AlreadyExists:
                throw new ServiceException("AlreadyExistsException", "Table already exists.");
        }
    }

    private static ServiceException NoSuchDatabase(string name) => new("EntityNotFoundException", $"Database {name} not found.");

    private static ServiceException Invalid(string message) => new("InvalidInputException", message);

    private static ServiceException InvalidToken() => Invalid("Invalid pagination token.");

    private static string? Text(JsonObject input, string name) => input[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string EncodeToken(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static string? DecodeToken(string? token)
    {
        if (token is null)
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            throw InvalidToken();
        }
    }
}
