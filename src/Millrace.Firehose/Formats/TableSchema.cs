namespace Millrace.Firehose.Formats;

/// <summary>One column of the table a conversion writes: its name and its Hive type string (e.g. <c>map&lt;string,int&gt;</c>).</summary>
public sealed record TableColumn(string Name, string HiveType);

/// <summary>The columns (in order) of the Glue table version that Firehose's record format conversion reads.</summary>
public sealed record TableSchema(IReadOnlyList<TableColumn> Columns);

/// <summary>
/// Where conversion finds a table's schema (Glue in the host). Firehose does not reference Glue; the host bridges this.
/// A version id null or <c>LATEST</c> is the current version; null when the table or version does not exist.
/// </summary>
public interface ITableSchemas
{
    ValueTask<TableSchema?> GetAsync(string? catalogId, string database, string table, string? versionId, CancellationToken ct);
}

/// <summary>
/// A conversion that cannot run at all, with the error code Firehose reports for it (e.g.
/// <c>DataFormatConversion.InvalidSchema</c>): every record of the batch goes to the format-conversion-failed output.
/// </summary>
public class FormatConversionException(string errorCode, string message) : Exception(message)
{
    public string ErrorCode { get; } = errorCode;
}

/// <summary>An output format Millrace cannot write; CreateDeliveryStream turns it into InvalidArgumentException.</summary>
public sealed class OutputFormatNotSupportedException(string format)
    : FormatConversionException("DataFormatConversion.UnsupportedFormat", $"Record format conversion to {format} is not supported; use ParquetSerDe.")
{
    public string Format { get; } = format;
}

/// <summary>
/// Apache ORC output. No maintained .NET ORC writer restores on net10.0, so ORC is refused up front rather than
/// written badly; callers check <see cref="Supported"/> (or catch the exception) at CreateDeliveryStream.
/// </summary>
public static class OrcConversion
{
    public const bool Supported = false;

    public static OutputFormatNotSupportedException NotSupported() => new("Apache ORC (OrcSerDe)");
}
