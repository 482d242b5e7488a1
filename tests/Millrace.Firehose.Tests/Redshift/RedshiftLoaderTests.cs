using System.IO.Compression;
using System.Text;
using Millrace.Firehose.Redshift;
using Millrace.Testing;
using Npgsql;

namespace Millrace.Firehose.Tests.Redshift;

/// <summary>One real PostgreSQL 15 server for the Redshift tests of a class.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public PostgresServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await PostgresServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public sealed class RedshiftLoaderTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    private RedshiftConnection Connection => RedshiftConnection.Parse(fixture.Server.JdbcUrl, "postgres", "unused-password");

    private static ReadOnlyMemory<byte> Text(string s) => Encoding.UTF8.GetBytes(s);

    private static ReadOnlyMemory<byte> Gzip(string s)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(s));
        }

        return output.ToArray();
    }

    private async Task<string> CreateTableAsync(string columns)
    {
        var name = "t_" + Guid.NewGuid().ToString("N")[..10];
        await using var db = new NpgsqlConnection(fixture.Server.ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE TABLE {name} ({columns})", db);
        await command.ExecuteNonQueryAsync();
        return name;
    }

    private async Task<List<string>> RowsAsync(string table, string columns)
    {
        await using var db = new NpgsqlConnection(fixture.Server.ConnectionString);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT concat_ws('|', {string.Join(", ", columns.Split(',').Select(c => $"coalesce({c}::text, 'NULL')"))}) FROM {table} ORDER BY 1", db);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }

    [Fact]
    public async Task Json_auto_maps_top_level_keys_to_columns_and_missing_keys_to_null()
    {
        var table = await CreateTableAsync("id int, name varchar(20), score numeric, tags varchar(100)");
        // Firehose concatenates records; with and without newlines between them.
        var staged = Text("""{"id":1,"name":"a","score":1.5,"tags":["x","y"]}{"id":2,"Name":"ignored","extra":true}""" + "\n" + """{"id":3,"name":null}""");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "JSON 'auto'"), [staged], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(3, outcome.RowsLoaded);
        Assert.Equal(["1|a|1.5|[\"x\",\"y\"]", "2|NULL|NULL|NULL", "3|NULL|NULL|NULL"], await RowsAsync(table, "id,name,score,tags"));
    }

    [Fact]
    public async Task Json_auto_ignorecase_matches_keys_in_any_case()
    {
        var table = await CreateTableAsync("id int, name text");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "FORMAT AS JSON 'auto ignorecase'"), [Text("""{"ID":7,"Name":"b"}""")], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(["7|b"], await RowsAsync(table, "id,name"));
    }

    [Fact]
    public async Task Csv_with_ignoreheader_skips_each_objects_header()
    {
        var table = await CreateTableAsync("id int, note text");
        var first = Text("id,note\r\n1,\"hello, world\"\r\n2,\"say \"\"hi\"\"\"\r\n");
        var second = Text("id,note\n3,\n4,\"\"\n");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "CSV IGNOREHEADER 1 EMPTYASNULL"), [first, second], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(4, outcome.RowsLoaded);
        // Unquoted empty is NULL under EMPTYASNULL; a quoted empty string stays empty.
        Assert.Equal(["1|hello, world", "2|say \"hi\"", "3|NULL", "4|"], await RowsAsync(table, "id,note"));
    }

    [Fact]
    public async Task Gzipped_staged_objects_are_decompressed()
    {
        var table = await CreateTableAsync("id int, name text");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "json 'auto' gzip"),
            [Gzip("""{"id":1,"name":"x"}"""), Gzip("""{"id":2,"name":"y"}""")], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(["1|x", "2|y"], await RowsAsync(table, "id,name"));
    }

    [Fact]
    public async Task The_default_format_is_pipe_delimited_text()
    {
        var table = await CreateTableAsync("id int, a text, b text");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table), [Text("1|x|\\N\n2||tab\there\n")], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(["1|x|NULL", "2||tab\there"], await RowsAsync(table, "id,a,b"));
    }

    [Fact]
    public async Task A_column_list_loads_only_those_columns()
    {
        var table = await CreateTableAsync("id int, name text, created int DEFAULT 42");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, "Name, id", "DELIMITER AS ','"), [Text("x,1\ny,2\n")], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(["1|x|42", "2|y|42"], await RowsAsync(table, "id,name,created"));
    }

    [Fact]
    public async Task A_bad_row_rolls_back_the_whole_batch()
    {
        var table = await CreateTableAsync("id int, name text");
        var good = Text(string.Concat(Enumerable.Range(1, 500).Select(i => $$"""{"id":{{i}},"name":"n{{i}}"}""")));
        var bad = Text("""{"id":"not a number","name":"z"}""");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "JSON 'auto'"), [good, bad], CancellationToken.None);

        Assert.False(outcome.Succeeded);
        Assert.Equal(RedshiftErrorCodes.DataLoadFailed, outcome.ErrorCode);
        Assert.Empty(await RowsAsync(table, "id,name"));
    }

    [Fact]
    public async Task Unreadable_rows_within_maxerror_are_skipped()
    {
        var table = await CreateTableAsync("id int, name text");

        var strict = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table), [Text("1|a\n2\n3|c\n")], CancellationToken.None);
        var tolerant = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "MAXERROR 1"), [Text("1|a\n2\n3|c\n")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.DataLoadFailed, strict.ErrorCode);
        Assert.True(tolerant.Succeeded, tolerant.ErrorMessage);
        Assert.Equal(1, tolerant.RowsSkipped);
        Assert.Equal(["1|a", "3|c"], await RowsAsync(table, "id,name"));
    }

    [Fact]
    public async Task Truncatecolumns_and_blanksasnull_apply_to_character_columns()
    {
        var table = await CreateTableAsync("id int, code varchar(3), note text");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: "JSON 'auto' TRUNCATECOLUMNS BLANKSASNULL TIMEFORMAT 'auto' ACCEPTINVCHARS"),
            [Text("""{"id":1,"code":"abcdef","note":"   "}""")], CancellationToken.None);

        Assert.True(outcome.Succeeded, outcome.ErrorMessage);
        Assert.Equal(["1|abc|NULL"], await RowsAsync(table, "id,code,note"));
    }

    [Fact]
    public async Task A_missing_table_is_table_not_found()
    {
        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand("no_such_table", CopyOptions: "JSON 'auto'"), [Text("{}")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.TableNotFound, outcome.ErrorCode);
    }

    [Fact]
    public async Task A_missing_column_is_column_not_found()
    {
        var table = await CreateTableAsync("id int");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, "id, nope"), [Text("1|2\n")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.ColumnNotFound, outcome.ErrorCode);
    }

    [Fact]
    public async Task A_not_null_column_left_out_of_the_list_is_missing_column()
    {
        var table = await CreateTableAsync("id int NOT NULL, name text");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, "name"), [Text("x\n")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.MissingColumn, outcome.ErrorCode);
    }

    [Theory]
    [InlineData("JSON 's3://bucket/jsonpaths.json'", RedshiftErrorCodes.IncorrectCopyOptions)]
    [InlineData("CSV JSON 'auto'", RedshiftErrorCodes.IncorrectCopyOptions)]
    [InlineData("CSV ESCAPE", RedshiftErrorCodes.IncorrectCopyOptions)]
    [InlineData("PARQUET", RedshiftErrorCodes.IncorrectCopyOptions)]
    [InlineData("FROBNICATE", RedshiftErrorCodes.SyntaxError)]
    [InlineData("DELIMITER", RedshiftErrorCodes.SyntaxError)]
    public async Task Unsupported_or_bad_options_fail_clearly(string options, string code)
    {
        var table = await CreateTableAsync("id int");

        var outcome = await RedshiftLoader.LoadAsync(Connection, new CopyCommand(table, CopyOptions: options), [Text("1\n")], CancellationToken.None);

        Assert.Equal(code, outcome.ErrorCode);
        Assert.NotNull(outcome.ErrorMessage);
    }

    [Fact]
    public async Task A_missing_database_is_database_not_found()
    {
        var connection = RedshiftConnection.Parse($"jdbc:redshift://127.0.0.1:{fixture.Server.Port}/nodb", "postgres", "unused-password");

        var outcome = await RedshiftLoader.LoadAsync(connection, new CopyCommand("t"), [Text("1\n")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.DatabaseNotFound, outcome.ErrorCode);
    }

    [Fact]
    public async Task A_closed_port_is_connection_failed()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var connection = RedshiftConnection.Parse($"jdbc:postgresql://127.0.0.1:{port}/db", "u", "password");

        var outcome = await RedshiftLoader.LoadAsync(connection, new CopyCommand("t"), [Text("1\n")], CancellationToken.None);

        Assert.Equal(RedshiftErrorCodes.ConnectionFailed, outcome.ErrorCode);
    }
}

public sealed class RedshiftConnectionTests
{
    [Fact]
    public void Parses_a_redshift_jdbc_url()
    {
        var c = RedshiftConnection.Parse("jdbc:redshift://examplecluster.abc123.us-west-2.redshift.amazonaws.com:5439/dev?ssl=true&ApplicationName=app", "awsuser", "Passw0rd!");

        Assert.Equal("examplecluster.abc123.us-west-2.redshift.amazonaws.com", c.Host);
        Assert.Equal(5439, c.Port);
        Assert.Equal("dev", c.Database);
        var builder = new NpgsqlConnectionStringBuilder(c.ConnectionString);
        Assert.Equal("awsuser", builder.Username);
        Assert.Equal("Passw0rd!", builder.Password);
        Assert.Equal(SslMode.Require, builder.SslMode);
        Assert.Equal("app", builder.ApplicationName);
    }

    [Fact]
    public void Parses_a_postgresql_jdbc_url_on_loopback()
    {
        var c = RedshiftConnection.Parse("jdbc:postgresql://127.0.0.1:5432/my_db$1?currentSchema=s1&connectTimeout=5", "u", "password");

        var builder = new NpgsqlConnectionStringBuilder(c.ConnectionString);
        Assert.Equal("127.0.0.1", builder.Host);
        Assert.Equal(5432, builder.Port);
        Assert.Equal("my_db$1", builder.Database);
        Assert.Equal("s1", builder.SearchPath);
        Assert.Equal(5, builder.Timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("postgresql://localhost:5432/db")]
    [InlineData("jdbc:mysql://localhost:3306/db")]
    [InlineData("jdbc:redshift://localhost/db")]
    [InlineData("jdbc:redshift://localhost:99999/db")]
    [InlineData("jdbc:redshift://localhost:5439/")]
    [InlineData("jdbc:redshift://localhost:5439/db name")]
    public void Rejects_urls_that_are_not_jdbc_redshift_or_postgresql(string url)
    {
        var ex = Assert.Throws<RedshiftConfigurationException>(() => RedshiftConnection.Parse(url, "u", "password"));

        Assert.Equal("InvalidArgumentException", ex.ErrorType);
        Assert.Contains("clusterJDBCURL", ex.Message);
    }

    [Fact]
    public void Never_echoes_the_query_string()
    {
        var ex = Assert.Throws<RedshiftConfigurationException>(() => RedshiftConnection.Parse("jdbc:redshift://h:5439/db?sslmode=bogus&password=hunter2", "u", "password"));

        Assert.DoesNotContain("hunter2", ex.Message);
    }
}
