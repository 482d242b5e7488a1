using Millrace.Server.Tests.S3;
using Npgsql;

namespace Millrace.Server.Tests.Firehose;

/// <summary>The Redshift destination against Debian's PostgreSQL 15, started by the test: records staged in S3, loaded by COPY.</summary>
public sealed class FirehoseRedshiftTests(FirehoseServerFixture fixture) : IClassFixture<FirehoseServerFixture>
{
    [Fact]
    public async Task RecordsAreLoadedIntoAPostgreSqlTable()
    {
        await using var postgres = await PostgresServer.StartAsync();
        var prefix = "rs" + Guid.NewGuid().ToString("N")[..8];
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE TABLE {prefix}_events (id int PRIMARY KEY, name text, amount numeric)", connection);
            await create.ExecuteNonQueryAsync();
        }

        var result = await ExternalTool.RunAsync("python3",
            [S3TestSupport.ClientPath("python", "firehose_redshift_boto3.py"), fixture.Server.Endpoint, prefix, postgres.JdbcUrl, postgres.Username],
            S3TestSupport.PythonEnv, timeout: TimeSpan.FromMinutes(3));
        S3TestSupport.RequireChecks(fixture.Server, result, "firehose_redshift_boto3.py", "load_into_table", "missing_table_ends_in_error_manifest");

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        List<(int Id, string Name, decimal Amount)> rows = [];
        while (DateTime.UtcNow < deadline)
        {
            rows.Clear();
            await using var connection = new NpgsqlConnection(postgres.ConnectionString);
            await connection.OpenAsync();
            await using var query = new NpgsqlCommand($"SELECT id, name, amount FROM {prefix}_events ORDER BY id", connection);
            await using var reader = await query.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetInt32(0), reader.GetString(1), reader.GetDecimal(2)));
            }

            if (rows.Count >= 50)
            {
                break;
            }

            await Task.Delay(300);
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (i, $"item {i}", i * 1.5m)), rows);
    }
}
