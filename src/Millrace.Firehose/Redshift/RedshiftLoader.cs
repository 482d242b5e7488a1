using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Millrace.Firehose.Redshift;

/// <summary>
/// Runs a Firehose Redshift destination's COPY against PostgreSQL. Firehose would issue
/// <c>COPY table (columns) FROM 's3://…/manifest' CREDENTIALS … MANIFEST options</c>; Millrace reads the staged objects
/// itself, applies the Redshift options, and streams the rows through one PostgreSQL <c>COPY … FROM STDIN</c> inside one
/// transaction, so a failed batch loads nothing.
/// </summary>
/// <remarks>
/// MAXERROR counts rows Millrace cannot read (bad JSON, wrong field count); a value PostgreSQL rejects (for example
/// 'abc' for an INTEGER) fails the whole batch, whatever MAXERROR says. TRUNCATECOLUMNS counts characters, where
/// Redshift counts bytes.
/// </remarks>
public static class RedshiftLoader
{
    private const string ColumnsQuery = """
        SELECT a.attname,
               t.typcategory = 'S',
               t.typcategory = 'D',
               CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4 THEN a.atttypmod - 4 END,
               a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """;

    /// <summary>
    /// Loads the staged objects (as read from S3, gzip'd when the options say GZIP) into the table. Returns the rows
    /// loaded, or the Firehose error code and message; throws only for cancellation.
    /// </summary>
    public static async Task<RedshiftLoadOutcome> LoadAsync(RedshiftConnection connection, CopyCommand copyCommand, IReadOnlyList<ReadOnlyMemory<byte>> stagedObjects, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(copyCommand);
        ArgumentNullException.ThrowIfNull(stagedObjects);
        RedshiftCopyOptions options;
        try
        {
            options = RedshiftCopyOptions.Parse(copyCommand.CopyOptions);
        }
        catch (CopyOptionsException ex)
        {
            return RedshiftLoadOutcome.Failure(ex.ErrorCode, ex.Message);
        }

        try
        {
            await using var db = new NpgsqlConnection(connection.ConnectionString);
            await db.OpenAsync(cancellationToken);
            await using var tx = await db.BeginTransactionAsync(cancellationToken);
            var table = await ResolveTableAsync(db, copyCommand.DataTableName, cancellationToken);
            if (table is null)
            {
                return RedshiftLoadOutcome.Failure(RedshiftErrorCodes.TableNotFound,
                    $"The table to which to load data was not found. Ensure that the specified table exists. (table: {copyCommand.DataTableName})");
            }

            var (targets, problem) = await TargetColumnsAsync(db, table.Value.Oid, copyCommand.DataTableColumns, cancellationToken);
            if (problem is not null)
            {
                return problem;
            }

            var parser = new StagedObjectParser(options, targets!);
            var columnList = string.Join(", ", targets!.Select(c => QuoteIdentifier(c.Name)));
            long loaded = 0;
            long skipped = 0;
            var writer = await db.BeginTextImportAsync($"COPY {table.Value.Name} ({columnList}) FROM STDIN", cancellationToken);
            var completed = false;
            try
            {
                var line = new StringBuilder();
                for (var o = 0; o < stagedObjects.Count; o++)
                {
                    var result = parser.Parse(stagedObjects[o], o + 1);
                    skipped += result.Errors.Count;
                    if (skipped > options.MaxError)
                    {
                        return RedshiftLoadOutcome.Failure(RedshiftErrorCodes.DataLoadFailed,
                            $"Loading data into the table failed: {result.Errors[0]}. {skipped} error(s), MAXERROR is {options.MaxError}.");
                    }

                    foreach (var row in result.Rows)
                    {
                        line.Clear();
                        AppendCopyLine(line, row);
                        await writer.WriteAsync(line, cancellationToken);
                        loaded++;
                    }
                }

                await writer.DisposeAsync();
                completed = true;
            }
            finally
            {
                if (!completed)
                {
                    await CancelImportAsync(writer);
                }
            }

            await tx.CommitAsync(cancellationToken);
            return new RedshiftLoadOutcome { RowsLoaded = loaded, RowsSkipped = skipped };
        }
        catch (PostgresException ex)
        {
            return Map(ex);
        }
        catch (NpgsqlException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return RedshiftLoadOutcome.Failure(RedshiftErrorCodes.ConnectionFailed, ConnectionFailedMessage(ex));
        }
        catch (Exception ex) when (ex is SocketException or TimeoutException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return RedshiftLoadOutcome.Failure(RedshiftErrorCodes.ConnectionFailed, ConnectionFailedMessage(ex));
        }
    }

    private static async Task CancelImportAsync(TextWriter writer)
    {
        try
        {
            if (writer is NpgsqlCopyTextWriter copy)
            {
                await copy.CancelAsync();
            }

            await writer.DisposeAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or ObjectDisposedException)
        {
            // The import is being abandoned and the transaction rolled back; the first error is the one reported.
        }
    }

    private static async Task<(uint Oid, string Name)?> ResolveTableAsync(NpgsqlConnection db, string tableName, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT c.oid, c.oid::regclass::text FROM pg_class c WHERE c.oid = to_regclass($1)", db);
        command.Parameters.Add(new NpgsqlParameter { Value = tableName });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetFieldValue<uint>(0), reader.GetString(1)) : null;
    }

    private static async Task<(List<TargetColumn>? Columns, RedshiftLoadOutcome? Problem)> TargetColumnsAsync(NpgsqlConnection db, uint table, string? columnList, CancellationToken cancellationToken)
    {
        var all = new List<(TargetColumn Column, bool Required)>();
        await using (var command = new NpgsqlCommand(ColumnsQuery, db))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = table, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var max = reader.IsDBNull(3) ? (int?)null : reader.GetInt32(3);
                all.Add((new TargetColumn(reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), max), reader.GetBoolean(4)));
            }
        }

        if (string.IsNullOrWhiteSpace(columnList))
        {
            return (all.Select(a => a.Column).ToList(), null);
        }

        var targets = new List<TargetColumn>();
        foreach (var raw in columnList.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // Unquoted identifiers fold to lower case, as in Redshift and PostgreSQL.
            var name = raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : raw.ToLowerInvariant();
            var match = all.FirstOrDefault(a => a.Column.Name == name).Column;
            if (match is null)
            {
                return (null, RedshiftLoadOutcome.Failure(RedshiftErrorCodes.ColumnNotFound,
                    $"A column in the COPY command does not exist in the table. Specify a valid column name. (column: {raw})"));
            }

            if (targets.Contains(match))
            {
                return (null, RedshiftLoadOutcome.Failure(RedshiftErrorCodes.SyntaxError, $"The COPY command contains a syntax error: column {raw} is listed twice."));
            }

            targets.Add(match);
        }

        var missing = all.FirstOrDefault(a => a.Required && !targets.Contains(a.Column)).Column;
        if (missing is not null)
        {
            return (null, RedshiftLoadOutcome.Failure(RedshiftErrorCodes.MissingColumn,
                $"There is a column defined in the table schema as NOT NULL without a DEFAULT value and not included in the column list. (column: {missing.Name})"));
        }

        return (targets, null);
    }

    /// <summary>One row in PostgreSQL's text COPY format: tab-separated, \N for NULL, backslash escapes.</summary>
    private static void AppendCopyLine(StringBuilder line, string?[] row)
    {
        for (var c = 0; c < row.Length; c++)
        {
            if (c > 0)
            {
                line.Append('\t');
            }

            var value = row[c];
            if (value is null)
            {
                line.Append("\\N");
                continue;
            }

            foreach (var ch in value)
            {
                switch (ch)
                {
                    case '\\':
                        line.Append("\\\\");
                        break;
                    case '\t':
                        line.Append("\\t");
                        break;
                    case '\n':
                        line.Append("\\n");
                        break;
                    case '\r':
                        line.Append("\\r");
                        break;
                    default:
                        line.Append(ch);
                        break;
                }
            }
        }

        line.Append('\n');
    }

    private static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static RedshiftLoadOutcome Map(PostgresException ex)
    {
        var detail = $"(PostgreSQL {ex.SqlState}: {ex.MessageText}{(ex.Where is { Length: > 0 } w ? "; " + w : "")})";
        var (code, message) = ex.SqlState switch
        {
            "42P01" => (RedshiftErrorCodes.TableNotFound, "The table to which to load data was not found. Ensure that the specified table exists."),
            "42703" => (RedshiftErrorCodes.ColumnNotFound, "A column in the COPY command does not exist in the table. Specify a valid column name."),
            "42601" or "42602" or "42701" => (RedshiftErrorCodes.SyntaxError, "The COPY command contains a syntax error."),
            "28P01" or "28000" => (RedshiftErrorCodes.AuthenticationFailed, "The provided user name and password failed authentication. Provide a valid user name and password."),
            "3D000" => (RedshiftErrorCodes.DatabaseNotFound, "The database specified in the Amazon Redshift destination configuration or JDBC URL was not found. Specify a valid database name."),
            "42501" => (RedshiftErrorCodes.InsufficientPrivilege, "The user does not have permissions to load data into the table. Check the Amazon Redshift user permissions for the INSERT privilege."),
            "25006" => (RedshiftErrorCodes.ReadOnlyCluster, "The query cannot be executed because the system is in resize mode. Try the query again later."),
            "53100" => (RedshiftErrorCodes.DiskFull, "Data could not be loaded because the disk is full."),
            var s when s.StartsWith("08", StringComparison.Ordinal) || s.StartsWith("57P", StringComparison.Ordinal) || s == "53300" =>
                (RedshiftErrorCodes.ConnectionFailed, "The connection to the specified Amazon Redshift cluster failed."),
            var s when s.StartsWith("22", StringComparison.Ordinal) || s.StartsWith("23", StringComparison.Ordinal) =>
                (RedshiftErrorCodes.DataLoadFailed, "Loading data into the table failed."),
            _ => (RedshiftErrorCodes.InternalError, "An internal error occurred while attempting to deliver data. Delivery will be retried."),
        };
        return RedshiftLoadOutcome.Failure(code, $"{message} {detail}");
    }

    private static string ConnectionFailedMessage(Exception ex) =>
        "The connection to the specified Amazon Redshift cluster failed. Ensure that the cluster or database specified in the JDBC URL is correct and that the cluster is available. " +
        $"({ex.GetBaseException().Message})";
}
