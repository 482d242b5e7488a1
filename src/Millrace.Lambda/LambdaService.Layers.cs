using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Millrace.Storage.Functions;

namespace Millrace.Lambda;

/// <summary>
/// Layers: versions of zip archives published once and referenced by functions (at most 5). A function's layers are
/// unpacked, in order, into one directory that plays the part of <c>/opt</c>: its <c>python</c>, <c>nodejs</c>,
/// <c>bin</c> and <c>lib</c> folders are put on the paths as AWS puts <c>/opt</c>'s.
/// </summary>
public sealed partial class LambdaService
{
    private const int MaxLayers = 5;

    private void RegisterLayers() => Endpoint
        .OnAsync("PublishLayerVersion", PublishLayerVersionAsync)
        .OnAsync("GetLayerVersion", GetLayerVersionAsync)
        .OnAsync("GetLayerVersionByArn", GetLayerVersionByArnAsync)
        .OnAsync("ListLayerVersions", ListLayerVersionsAsync)
        .OnAsync("ListLayers", ListLayersAsync)
        .OnAsync("DeleteLayerVersion", DeleteLayerVersionAsync);

    private string LayerArn(string name) => $"arn:aws:lambda:{_options.Region}:{_options.AccountId}:layer:{name}";

    /// <summary>LayerName is a name or a layer ARN.</summary>
    private static string LayerNameOf(string text)
    {
        var at = text.IndexOf(":layer:", StringComparison.Ordinal);
        return at < 0 ? text : text[(at + ":layer:".Length)..];
    }

    private static ServiceException LayerNotFound() => new("ResourceNotFoundException", "The resource you requested does not exist.", 404);

    private async Task<JsonObject?> PublishLayerVersionAsync(JsonObject input, OperationContext ctx)
    {
        var name = LayerNameOf(Text(input, "LayerName")!);
        var archive = await ReadCodeAsync(input["Content"] as JsonObject ?? [], ctx.Cancellation);
        var sha = FunctionCode.Sha256(archive);
        await _store.PutCodeAsync(sha, archive, ctx.Cancellation);
        var created = LastModified(Now);
        var stored = await _store.AddLayerVersionAsync(name, sha, version =>
        {
            var document = new JsonObject
            {
                ["Content"] = new JsonObject
                {
                    ["Location"] = $"{_options.ServiceEndpoint}/2018-10-31/layers/{name}/versions/{version}/content",
                    ["CodeSha256"] = sha,
                    ["CodeSize"] = archive.Length,
                },
                ["LayerArn"] = LayerArn(name),
                ["LayerVersionArn"] = $"{LayerArn(name)}:{version}",
                ["Description"] = Text(input, "Description") ?? "",
                ["CreatedDate"] = created,
                ["Version"] = version,
                ["CompatibleRuntimes"] = input["CompatibleRuntimes"]?.DeepClone() ?? new JsonArray(),
                ["CompatibleArchitectures"] = input["CompatibleArchitectures"]?.DeepClone() ?? new JsonArray(),
            };
            if (Text(input, "LicenseInfo") is { } license)
            {
                document["LicenseInfo"] = license;
            }

            return document.ToJsonString();
        }, ctx.Cancellation);
        return JsonNode.Parse(stored.Document)!.AsObject();
    }

    private async Task<JsonObject?> GetLayerVersionAsync(JsonObject input, OperationContext ctx)
    {
        var stored = await _store.GetLayerVersionAsync(LayerNameOf(Text(input, "LayerName")!), Long(input, "VersionNumber")!.Value, cancellationToken: ctx.Cancellation)
            ?? throw LayerNotFound();
        return JsonNode.Parse(stored.Document)!.AsObject();
    }

    private async Task<JsonObject?> GetLayerVersionByArnAsync(JsonObject input, OperationContext ctx)
    {
        var (name, version) = ParseLayerVersionArn(Text(input, "Arn")!) ?? throw LayerNotFound();
        var stored = await _store.GetLayerVersionAsync(name, version, cancellationToken: ctx.Cancellation) ?? throw LayerNotFound();
        return JsonNode.Parse(stored.Document)!.AsObject();
    }

    /// <summary>(layer name, version) of <c>arn:aws:lambda:region:account:layer:name:version</c>; null when it is not one of this account's.</summary>
    private (string Name, long Version)? ParseLayerVersionArn(string arn)
    {
        var prefix = $"arn:aws:lambda:{_options.Region}:{_options.AccountId}:layer:";
        var colon = arn.LastIndexOf(':');
        return arn.StartsWith(prefix, StringComparison.Ordinal) && colon > prefix.Length && long.TryParse(arn.AsSpan(colon + 1), out var version)
            ? (arn[prefix.Length..colon], version)
            : null;
    }

    private static bool Compatible(JsonObject document, JsonObject input)
    {
        static bool Has(JsonNode? list, string? wanted) =>
            wanted is null || (list is JsonArray values && values.Any(v => v?.GetValue<string>() == wanted));
        return Has(document["CompatibleRuntimes"], Text(input, "CompatibleRuntime")) && Has(document["CompatibleArchitectures"], Text(input, "CompatibleArchitecture"));
    }

    private static JsonObject ListItem(JsonObject document)
    {
        var item = new JsonObject();
        foreach (var member in new[] { "LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures" })
        {
            if (document[member] is { } value)
            {
                item[member] = value.DeepClone();
            }
        }

        return item;
    }

    /// <summary>One page of <paramref name="items"/> after the marker (an index), with NextMarker when more remain.</summary>
    private static JsonObject Page(JsonObject input, string member, List<JsonObject> items)
    {
        var start = Text(input, "Marker") is { } marker && int.TryParse(DecodeMarker(marker), out var at) ? at : 0;
        var limit = (int)(Long(input, "MaxItems") ?? 50);
        var output = new JsonObject { [member] = new JsonArray([.. items.Skip(start).Take(limit)]) };
        if (start + limit < items.Count)
        {
            output["NextMarker"] = Convert.ToBase64String(Encoding.UTF8.GetBytes((start + limit).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        return output;
    }

    private async Task<JsonObject?> ListLayerVersionsAsync(JsonObject input, OperationContext ctx)
    {
        var versions = await _store.ListLayerVersionsAsync(LayerNameOf(Text(input, "LayerName")!), ctx.Cancellation);
        var items = versions.Select(v => JsonNode.Parse(v.Document)!.AsObject()).Where(d => Compatible(d, input)).Select(ListItem).ToList();
        return Page(input, "LayerVersions", items);
    }

    private async Task<JsonObject?> ListLayersAsync(JsonObject input, OperationContext ctx)
    {
        var items = new List<JsonObject>();
        foreach (var layer in (await _store.ListAllLayerVersionsAsync(ctx.Cancellation)).GroupBy(v => v.Name))
        {
            // Versions come newest first: the latest one that matches the filters.
            if (layer.Select(v => JsonNode.Parse(v.Document)!.AsObject()).FirstOrDefault(d => Compatible(d, input)) is { } latest)
            {
                items.Add(new JsonObject { ["LayerName"] = layer.Key, ["LayerArn"] = LayerArn(layer.Key), ["LatestMatchingVersion"] = ListItem(latest) });
            }
        }

        return Page(input, "Layers", items);
    }

    private async Task<JsonObject?> DeleteLayerVersionAsync(JsonObject input, OperationContext ctx)
    {
        // Idempotent, as on AWS: deleting a version that is not there succeeds.
        await _store.DeleteLayerVersionAsync(LayerNameOf(Text(input, "LayerName")!), Long(input, "VersionNumber")!.Value, ctx.Cancellation);
        return null;
    }

    /// <summary>A function's Layers as its configuration shows them (Arn, CodeSize); every version must exist.</summary>
    private async Task<JsonArray> FunctionLayersAsync(JsonArray arns, CancellationToken ct)
    {
        if (arns.Count > MaxLayers)
        {
            throw new ServiceException("InvalidParameterValueException", $"Cannot reference more than {MaxLayers} layers.");
        }

        var layers = new JsonArray();
        foreach (var arn in arns.Select(a => a!.GetValue<string>()))
        {
            var stored = ParseLayerVersionArn(arn) is var (name, version) ? await _store.GetLayerVersionAsync(name, version, cancellationToken: ct) : null;
            if (stored is null)
            {
                throw new ServiceException("InvalidParameterValueException", $"Layer version {arn} does not exist.");
            }

            var size = JsonNode.Parse(stored.Document)!["Content"]!["CodeSize"]!.GetValue<long>();
            layers.Add(new JsonObject { ["Arn"] = arn, ["CodeSize"] = size });
        }

        return layers;
    }

    /// <summary>
    /// The directory standing for <c>/opt</c>: the function's layers unpacked in order (a later layer's files replace
    /// an earlier one's), once per list of layer versions, since a version never changes.
    /// </summary>
    private async Task<string?> LayerDirectoryAsync(JsonObject config, CancellationToken ct)
    {
        if (config["Layers"] is not JsonArray { Count: > 0 } layers)
        {
            return null;
        }

        var arns = layers.Select(l => l!["Arn"]!.GetValue<string>()).ToList();
        var root = Path.Combine(_options.WorkDirectory, "layers");
        var target = Path.Combine(root, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', arns))))[..32]);
        if (Directory.Exists(target))
        {
            return target;
        }

        var temp = Path.Combine(root, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        foreach (var arn in arns)
        {
            // A deleted version still serves the functions that use it, as on AWS.
            var stored = ParseLayerVersionArn(arn) is var (name, version) ? await _store.GetLayerVersionAsync(name, version, includeDeleted: true, ct) : null;
            var archive = stored is null ? null : await _store.GetCodeAsync(stored.CodeSha256, ct);
            if (archive is null)
            {
                Directory.Delete(temp, recursive: true);
                throw new ServiceException("ResourceConflictException", $"The layer version {arn} of this function is missing from the store.", 409);
            }

            FunctionCode.ExtractInto(temp, archive);
        }

        return FunctionCode.MoveIntoPlace(temp, target);
    }
}
