using System.Globalization;
using System.Text.Json.Nodes;
using Millrace.Protocol.Wire;

namespace Millrace.Firehose.Delivery;

/// <summary>Where and how objects are written in one bucket: a destination's S3 part, a backup, or the staging bucket of HTTP and Redshift.</summary>
internal sealed record S3Target(string Bucket, string Prefix, string? ErrorOutputPrefix, string Compression, string? FileExtension, TimeZoneInfo Zone, string? RoleArn = null)
{
    public static S3Target Parse(JsonObject c, bool allowExtended)
    {
        var arn = ModelDocument.GetString(c["BucketARN"])!;
        if (!arn.StartsWith("arn:aws:s3:::", StringComparison.Ordinal) || arn.Length == "arn:aws:s3:::".Length || arn.IndexOf('/', 13) >= 0)
        {
            throw FirehoseService.Invalid($"BucketARN {arn} is not a valid S3 bucket ARN (arn:aws:s3:::<bucket>).");
        }

        var zoneName = allowExtended ? ModelDocument.GetString(c["CustomTimeZone"]) : null;
        TimeZoneInfo zone;
        try
        {
            zone = string.IsNullOrEmpty(zoneName) || zoneName == "UTC" ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(zoneName);
        }
        catch (TimeZoneNotFoundException)
        {
            throw FirehoseService.Invalid($"CustomTimeZone {zoneName} is not a valid time zone.");
        }

        return new S3Target(arn["arn:aws:s3:::".Length..], ModelDocument.GetString(c["Prefix"]) ?? "", ModelDocument.GetString(c["ErrorOutputPrefix"]),
            ModelDocument.GetString(c["CompressionFormat"]) ?? "UNCOMPRESSED", allowExtended ? ModelDocument.GetString(c["FileExtension"]) : null, zone,
            ModelDocument.GetString(c["RoleARN"]));
    }
}

/// <summary>One processor of a ProcessingConfiguration, with its parameters by name.</summary>
internal sealed record ProcessorSettings(string Type, IReadOnlyDictionary<string, string> Parameters)
{
    public string? Get(string name) => Parameters.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// What a delivery worker does, parsed once from the stored destination; <see cref="Parse"/> is also the semantic
/// validation of CreateDeliveryStream and UpdateDestination (InvalidArgumentException with AWS's reasons).
/// </summary>
internal sealed record DeliverySettings(
    string Kind,
    S3Target S3,
    S3Target? Backup,
    string BackupMode,
    long BufferBytes,
    int IntervalSeconds,
    IReadOnlyList<ProcessorSettings> Processors,
    bool DynamicPartitioning,
    Formats.FormatConversionSettings? Conversion,
    JsonObject Configuration)
{
    public const long MiB = 1024 * 1024;

    /// <summary>The role the destination acts as (its RoleARN; the S3 part's for HTTP and Redshift destinations).</summary>
    public string? RoleArn => ModelDocument.GetString(Configuration["RoleARN"]) ?? S3.RoleArn;

    public static DeliverySettings Parse(JsonObject destination)
    {
        var kind = destination["Kind"]!.GetValue<string>();
        var c = destination["Configuration"]!.AsObject();
        var extended = kind == "ExtendedS3";
        var s3Config = kind is "S3" or "ExtendedS3" ? c : c["S3Configuration"]!.AsObject();
        var s3 = S3Target.Parse(s3Config, extended);
        var hints = c["BufferingHints"] as JsonObject ?? s3Config["BufferingHints"]!.AsObject();
        var size = ModelDocument.GetInt64(hints["SizeInMBs"]);
        var interval = ModelDocument.GetInt64(hints["IntervalInSeconds"]);
        if (size is null != interval is null)
        {
            throw FirehoseService.Invalid("BufferingHints must specify both SizeInMBs and IntervalInSeconds, or neither.");
        }

        Formats.FormatConversionSettings? conversion = null;
        if (extended && c["DataFormatConversionConfiguration"] is JsonObject dfc && (ModelDocument.GetBoolean(dfc["Enabled"]) ?? true))
        {
            if (s3.Compression != "UNCOMPRESSED")
            {
                throw FirehoseService.Invalid("CompressionFormat must be UNCOMPRESSED when DataFormatConversionConfiguration is enabled; set the compression in the output SerDe instead.");
            }

            if (size < 64)
            {
                throw FirehoseService.Invalid("BufferingHints.SizeInMBs must be at least 64 when DataFormatConversionConfiguration is enabled.");
            }

            conversion = Formats.FormatConversionSettings.Parse(dfc, FirehoseService.Invalid);
        }

        if (kind is "HttpEndpoint" or "Redshift" && s3.Compression is "ZIP" or "Snappy" or "HADOOP_SNAPPY")
        {
            throw FirehoseService.Invalid($"CompressionFormat {s3.Compression} is not supported for the S3 configuration of a {kind} destination; use UNCOMPRESSED or GZIP.");
        }

        if (kind == "Redshift")
        {
            try
            {
                Redshift.RedshiftConnection.Parse(ModelDocument.GetString(c["ClusterJDBCURL"])!, ModelDocument.GetString(c["Username"]) ?? "", "");
            }
            catch (Redshift.RedshiftConfigurationException e)
            {
                throw FirehoseService.Invalid(e.Message);
            }
        }

        var processors = ParseProcessors(c["ProcessingConfiguration"] as JsonObject);
        var partitioning = extended && c["DynamicPartitioningConfiguration"] is JsonObject dp && (ModelDocument.GetBoolean(dp["Enabled"]) ?? false);
        if (processors.Any(p => p.Type == "MetadataExtraction") && !partitioning)
        {
            throw FirehoseService.Invalid("The MetadataExtraction processor requires DynamicPartitioningConfiguration to be enabled.");
        }

        var backupMode = ModelDocument.GetString(c["S3BackupMode"]) ?? "Disabled";
        S3Target? backup = null;
        if (kind is "ExtendedS3" or "Redshift" && backupMode == "Enabled")
        {
            backup = c["S3BackupConfiguration"] is JsonObject b
                ? S3Target.Parse(b, allowExtended: false)
                : throw FirehoseService.Invalid("S3BackupConfiguration is required when S3BackupMode is Enabled.");
        }

        Prefixes.FirehosePrefix.Validate(s3.Prefix, s3.ErrorOutputPrefix, partitioning);
        if (backup is not null)
        {
            Prefixes.FirehosePrefix.Validate(backup.Prefix, backup.ErrorOutputPrefix, false);
        }

        var defaultSize = conversion is not null ? 128 : 5;
        return new DeliverySettings(kind, s3, backup, backupMode, (size ?? defaultSize) * MiB, (int)(interval ?? 300), processors, partitioning, conversion, c);
    }

    private static List<ProcessorSettings> ParseProcessors(JsonObject? processing)
    {
        var list = new List<ProcessorSettings>();
        if (processing is null || !(ModelDocument.GetBoolean(processing["Enabled"]) ?? true))
        {
            return list;
        }

        foreach (var p in processing["Processors"] as JsonArray ?? [])
        {
            var type = ModelDocument.GetString(p!["Type"])!;
            var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var parameter in p["Parameters"] as JsonArray ?? [])
            {
                parameters[ModelDocument.GetString(parameter!["ParameterName"])!] = ModelDocument.GetString(parameter["ParameterValue"]) ?? "";
            }

            var processor = new ProcessorSettings(type, parameters);
            Check(processor);
            list.Add(processor);
        }

        return list;
    }

    private static void Check(ProcessorSettings p)
    {
        switch (p.Type)
        {
            case "Lambda":
                if (p.Get("LambdaArn") is null)
                {
                    throw FirehoseService.Invalid("The Lambda processor requires the LambdaArn parameter.");
                }

                CheckNumber(p, "NumberOfRetries", 0, 300);
                CheckNumber(p, "BufferSizeInMBs", 0.2, 3);
                CheckNumber(p, "BufferIntervalInSeconds", 0, 900);
                break;
            case "MetadataExtraction":
                if (p.Get("MetadataExtractionQuery") is not { } query)
                {
                    throw FirehoseService.Invalid("The MetadataExtraction processor requires the MetadataExtractionQuery parameter.");
                }

                if (p.Get("JsonParsingEngine") is not "JQ-1.6")
                {
                    throw FirehoseService.Invalid("The MetadataExtraction processor requires JsonParsingEngine JQ-1.6.");
                }

                try
                {
                    Jq.JqProgram.Parse(query);
                }
                catch (Jq.JqException e)
                {
                    throw FirehoseService.Invalid($"MetadataExtractionQuery is not a valid jq 1.6 query: {e.Message}");
                }

                break;
            case "RecordDeAggregation":
                if (p.Get("SubRecordType") is not ("JSON" or "DELIMITED"))
                {
                    throw FirehoseService.Invalid("The RecordDeAggregation processor requires SubRecordType JSON or DELIMITED.");
                }

                if (p.Get("SubRecordType") == "DELIMITED" && p.Get("Delimiter") is not { Length: > 0 })
                {
                    throw FirehoseService.Invalid("The RecordDeAggregation processor with SubRecordType DELIMITED requires a base64 Delimiter.");
                }

                break;
            case "AppendDelimiterToRecord":
                break;
            case "Decompression":
                if ((p.Get("CompressionFormat") ?? "GZIP") != "GZIP")
                {
                    throw FirehoseService.Invalid("The Decompression processor supports CompressionFormat GZIP only.");
                }

                break;
            case "CloudWatchLogProcessing":
                break;
            default:
                throw FirehoseService.Invalid($"Processor type {p.Type} is not supported.");
        }
    }

    private static void CheckNumber(ProcessorSettings p, string name, double min, double max)
    {
        if (p.Get(name) is { } text && (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max))
        {
            throw FirehoseService.Invalid($"Processor parameter {name} of the {p.Type} processor must be a number between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}; got {text}.");
        }
    }

    public double Number(ProcessorSettings p, string name, double fallback) =>
        p.Get(name) is { } text ? double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) : fallback;
}
