using Millrace.Firehose.Formats;

namespace Millrace.Firehose.Delivery;

internal sealed partial class DeliveryWorker
{
    /// <summary>
    /// The conversion of one batch: the Glue table's schema is read once per batch (a table update applies from the
    /// next batch, as on AWS), or the reason no record of the batch can be converted.
    /// </summary>
    private sealed record BatchConversion(ParquetConversion? Conversion, CatalogTableReference Table, string? ErrorCode, string? Error);

    private async Task<BatchConversion> PrepareConversionAsync(FormatConversionSettings settings, CancellationToken ct)
    {
        var catalog = settings.CatalogId ?? options.AccountId;
        var region = settings.Region ?? options.Region;
        var schema = connections.Schemas is { } schemas
            ? await schemas.GetTableSchemaAsync(settings.CatalogId, settings.DatabaseName, settings.TableName, settings.VersionId, ct)
            : null;
        if (schema is null)
        {
            return new BatchConversion(null, new CatalogTableReference(catalog, settings.DatabaseName, settings.TableName, region, settings.VersionId),
                "DataFormatConversion.EntityNotFound",
                $"The table {settings.TableName} (version {settings.VersionId}) in the database {settings.DatabaseName} of catalog {catalog} could not be found.");
        }

        var table = new CatalogTableReference(schema.CatalogId, schema.Database, schema.Table, region, schema.VersionId);
        try
        {
            return new BatchConversion(new ParquetConversion(schema, settings), table, null, null);
        }
        catch (FormatConversionException e)
        {
            return new BatchConversion(null, table, e.ErrorCode, e.Message);
        }
    }

    /// <summary>One Parquet object of a partition group's records; records that cannot be converted join <paramref name="failed"/>.</summary>
    private async Task<(byte[]? Body, int Records)> ConvertAsync(BatchConversion batch, List<FirehoseRecord> group, List<FailedRecord> failed, CancellationToken ct)
    {
        var rows = new List<Dictionary<string, object?>>(group.Count);
        var converted = 0;
        foreach (var record in group)
        {
            var (read, code, error) = batch.Conversion is { } conversion ? conversion.Read(record.Data) : (null, batch.ErrorCode, batch.Error);
            if (read is null)
            {
                failed.Add(new FailedRecord(record, "format-conversion-failed", code!, error!, 1, NowMs) { CatalogTable = batch.Table });
                continue;
            }

            rows.AddRange(read);
            converted++;
        }

        return rows.Count == 0 ? (null, 0) : (await batch.Conversion!.WriteAsync(rows, ct), converted);
    }
}
