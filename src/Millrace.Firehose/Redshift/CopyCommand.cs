namespace Millrace.Firehose.Redshift;

/// <summary>The model's <c>CopyCommand</c>: the target table, an optional column list and the COPY options.</summary>
/// <param name="DataTableName">The table (optionally schema-qualified); it must already exist.</param>
/// <param name="DataTableColumns">A comma-separated column list, or null for all columns in table order.</param>
/// <param name="CopyOptions">Redshift COPY options, for example <c>JSON 'auto' GZIP</c>.</param>
public sealed record CopyCommand(string DataTableName, string? DataTableColumns = null, string? CopyOptions = null);

/// <summary>The error codes Firehose reports for Redshift (developer guide, "Amazon Redshift Data Delivery Errors").</summary>
public static class RedshiftErrorCodes
{
    public const string TableNotFound = "Redshift.TableNotFound";
    public const string SyntaxError = "Redshift.SyntaxError";
    public const string AuthenticationFailed = "Redshift.AuthenticationFailed";
    public const string DataLoadFailed = "Redshift.DataLoadFailed";
    public const string ColumnNotFound = "Redshift.ColumnNotFound";
    public const string DatabaseNotFound = "Redshift.DatabaseNotFound";
    public const string IncorrectCopyOptions = "Redshift.IncorrectCopyOptions";
    public const string MissingColumn = "Redshift.MissingColumn";
    public const string ConnectionFailed = "Redshift.ConnectionFailed";
    public const string InsufficientPrivilege = "Redshift.InsufficientPrivilege";
    public const string ReadOnlyCluster = "Redshift.ReadOnlyCluster";
    public const string DiskFull = "Redshift.DiskFull";
    public const string InternalError = "InternalError";
}

/// <summary>The result of one <see cref="RedshiftLoader.LoadAsync"/>: rows loaded, or Firehose's error code and message.</summary>
public sealed record RedshiftLoadOutcome
{
    public bool Succeeded => ErrorCode is null;

    public long RowsLoaded { get; init; }

    /// <summary>Rows skipped under MAXERROR.</summary>
    public long RowsSkipped { get; init; }

    public string? ErrorCode { get; init; }

    public string? ErrorMessage { get; init; }

    internal static RedshiftLoadOutcome Failure(string code, string message) => new() { ErrorCode = code, ErrorMessage = message };
}
