using System.Text.Json.Nodes;
using Millrace.Firehose.Delivery;

namespace Millrace.Firehose;

/// <summary>
/// A delivery stream's one destination as stored: <c>{"Kind": "S3"|"ExtendedS3"|"HttpEndpoint"|"Redshift",
/// "Configuration": {...}}</c>, the creation configuration with AWS's defaults filled in. Describe renders it as
/// the model's *DestinationDescription (secrets left out); UpdateDestination merges an update into it.
/// </summary>
internal static class DestinationConfigurations
{
    private static readonly string[] Supported = ["S3", "ExtendedS3", "Redshift", "HttpEndpoint"];

    private static readonly (string Member, string Name)[] Unsupported =
    [
        ("ElasticsearchDestinationConfiguration", "Elasticsearch"),
        ("AmazonopensearchserviceDestinationConfiguration", "Amazon OpenSearch Service"),
        ("AmazonOpenSearchServerlessDestinationConfiguration", "Amazon OpenSearch Serverless"),
        ("SplunkDestinationConfiguration", "Splunk"),
        ("SnowflakeDestinationConfiguration", "Snowflake"),
        ("IcebergDestinationConfiguration", "Apache Iceberg"),
    ];

    public static JsonObject FromCreate(JsonObject input)
    {
        foreach (var (member, name) in Unsupported)
        {
            if (input[member] is not null)
            {
                throw FirehoseService.Invalid($"{name} destinations are not supported by Millrace; use an S3, ExtendedS3, HttpEndpoint or Redshift destination.");
            }
        }

        if (input["MSKSourceConfiguration"] is not null || input["DatabaseSourceConfiguration"] is not null)
        {
            throw FirehoseService.Invalid("MSK and database sources are not supported by Millrace; use DirectPut or KinesisStreamAsSource.");
        }

        var given = Supported.Where(kind => input[kind + "DestinationConfiguration"] is not null).ToList();
        if (given.Count != 1)
        {
            throw FirehoseService.Invalid(given.Count == 0
                ? "Exactly one destination configuration must be specified."
                : $"Only one destination configuration may be specified; got {string.Join(", ", given.Select(g => g + "DestinationConfiguration"))}.");
        }

        var kind = given[0];
        var destination = new JsonObject { ["Kind"] = kind, ["Configuration"] = Normalize(kind, input[kind + "DestinationConfiguration"]!.DeepClone().AsObject()) };
        DeliverySettings.Parse(destination); // throws InvalidArgumentException for what AWS refuses
        return destination;
    }

    public static JsonObject Update(JsonObject current, JsonObject input)
    {
        var updates = new[] { "S3", "ExtendedS3", "Redshift", "HttpEndpoint", "Elasticsearch", "Amazonopensearchservice", "Splunk", "AmazonOpenSearchServerless", "Snowflake", "Iceberg" }
            .Where(k => input[k + "DestinationUpdate"] is not null).ToList();
        if (updates.Count != 1)
        {
            throw FirehoseService.Invalid("Exactly one destination update must be specified.");
        }

        var kind = current["Kind"]!.GetValue<string>();
        var updateKind = updates[0];
        var s3Family = kind is "S3" or "ExtendedS3";
        if (!(updateKind == kind || (s3Family && updateKind is "S3" or "ExtendedS3")))
        {
            throw FirehoseService.Invalid($"Changing the destination from {kind} to {updateKind} is not supported by Millrace.");
        }

        var configuration = current["Configuration"]!.DeepClone().AsObject();
        var update = input[updateKind + "DestinationUpdate"]!.AsObject();
        var newKind = kind == "S3" && updateKind == "ExtendedS3" ? "ExtendedS3" : kind;
        if (configuration["S3BackupMode"]?.GetValue<string>() == "Enabled" && update["S3BackupMode"]?.GetValue<string>() == "Disabled")
        {
            throw FirehoseService.Invalid("S3 backup cannot be disabled once it has been enabled.");
        }

        var partitioning = (configuration["DynamicPartitioningConfiguration"] as JsonObject)?["Enabled"]?.GetValue<bool>() ?? false;
        if (update["DynamicPartitioningConfiguration"] is JsonObject dp && (dp["Enabled"]?.GetValue<bool>() ?? false) != partitioning)
        {
            throw FirehoseService.Invalid(partitioning
                ? "Dynamic partitioning cannot be disabled once it has been enabled."
                : "Dynamic partitioning can only be enabled when the delivery stream is created.");
        }

        foreach (var (member, value) in update)
        {
            var target = member switch
            {
                "S3BackupUpdate" => "S3BackupConfiguration",
                "S3Update" => "S3Configuration",
                _ => member,
            };
            if (member is "S3BackupUpdate" or "S3Update" && configuration[target] is JsonObject existing && value is JsonObject changes)
            {
                foreach (var (k, v) in changes)
                {
                    existing[k] = v?.DeepClone();
                }
            }
            else
            {
                configuration[target] = value?.DeepClone();
            }
        }

        var destination = new JsonObject { ["Kind"] = newKind, ["Configuration"] = Normalize(newKind, configuration) };
        DeliverySettings.Parse(destination);
        return destination;
    }

    public static JsonObject Describe(JsonObject destination)
    {
        var kind = destination["Kind"]!.GetValue<string>();
        var c = destination["Configuration"]!.DeepClone().AsObject();
        switch (kind)
        {
            case "S3":
                var extended = c.DeepClone().AsObject();
                extended["S3BackupMode"] = "Disabled";
                return new JsonObject { ["S3DestinationDescription"] = c, ["ExtendedS3DestinationDescription"] = extended };
            case "ExtendedS3":
                Rename(c, "S3BackupConfiguration", "S3BackupDescription");
                return new JsonObject
                {
                    ["S3DestinationDescription"] = S3Part(c),
                    ["ExtendedS3DestinationDescription"] = c,
                };
            case "HttpEndpoint":
                (c["EndpointConfiguration"] as JsonObject)?.Remove("AccessKey");
                Rename(c, "S3Configuration", "S3DestinationDescription");
                return new JsonObject { ["HttpEndpointDestinationDescription"] = c };
            default:
                c.Remove("Password");
                Rename(c, "S3Configuration", "S3DestinationDescription");
                Rename(c, "S3BackupConfiguration", "S3BackupDescription");
                return new JsonObject { ["RedshiftDestinationDescription"] = c };
        }
    }

    private static JsonObject S3Part(JsonObject extended)
    {
        var s3 = new JsonObject();
        foreach (var member in new[] { "RoleARN", "BucketARN", "Prefix", "ErrorOutputPrefix", "BufferingHints", "CompressionFormat", "EncryptionConfiguration", "CloudWatchLoggingOptions" })
        {
            if (extended[member] is { } value)
            {
                s3[member] = value.DeepClone();
            }
        }

        return s3;
    }

    private static void Rename(JsonObject o, string from, string to)
    {
        if (o[from] is { } value)
        {
            o.Remove(from);
            o[to] = value.DeepClone();
        }
    }

    /// <summary>AWS's defaults, so that Describe shows what delivery will do.</summary>
    private static JsonObject Normalize(string kind, JsonObject c)
    {
        switch (kind)
        {
            case "S3":
                NormalizeS3(c, conversion: false);
                break;
            case "ExtendedS3":
                var conversion = c["DataFormatConversionConfiguration"] is JsonObject dfc && (dfc["Enabled"]?.GetValue<bool>() ?? true);
                NormalizeS3(c, conversion);
                c["S3BackupMode"] ??= "Disabled";
                if (c["S3BackupConfiguration"] is JsonObject backup)
                {
                    NormalizeS3(backup, conversion: false);
                }

                break;
            case "HttpEndpoint":
                c["BufferingHints"] ??= new JsonObject { ["SizeInMBs"] = 5, ["IntervalInSeconds"] = 300 };
                c["RequestConfiguration"] ??= new JsonObject { ["ContentEncoding"] = "NONE" };
                c["RetryOptions"] ??= new JsonObject { ["DurationInSeconds"] = 300 };
                c["S3BackupMode"] ??= "FailedDataOnly";
                c["CloudWatchLoggingOptions"] ??= new JsonObject { ["Enabled"] = false };
                NormalizeS3(c["S3Configuration"]!.AsObject(), conversion: false);
                break;
            default:
                c["RetryOptions"] ??= new JsonObject { ["DurationInSeconds"] = 3600 };
                c["S3BackupMode"] ??= "Disabled";
                c["CloudWatchLoggingOptions"] ??= new JsonObject { ["Enabled"] = false };
                NormalizeS3(c["S3Configuration"]!.AsObject(), conversion: false);
                if (c["S3BackupConfiguration"] is JsonObject redshiftBackup)
                {
                    NormalizeS3(redshiftBackup, conversion: false);
                }

                break;
        }

        return c;
    }

    private static void NormalizeS3(JsonObject c, bool conversion)
    {
        c["BufferingHints"] ??= new JsonObject { ["SizeInMBs"] = conversion ? 128 : 5, ["IntervalInSeconds"] = 300 };
        c["CompressionFormat"] ??= "UNCOMPRESSED";
        c["EncryptionConfiguration"] ??= new JsonObject { ["NoEncryptionConfig"] = "NoEncryption" };
        c["CloudWatchLoggingOptions"] ??= new JsonObject { ["Enabled"] = false };
        c["Prefix"] ??= "";
    }
}
