using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Gateway;
using Millrace.Lambda.Runtime;
using Millrace.Protocol.Wire;
using Millrace.Storage.Functions;

namespace Millrace.Lambda;

/// <summary>
/// The Lambda API (rest-json, <c>/2015-03-31/...</c>) from the embedded model: functions, versions, aliases,
/// permissions, reserved concurrency, tags and Invoke, over an <see cref="IFunctionStore"/> and a
/// <see cref="FunctionExecutor"/>.
/// </summary>
public sealed partial class LambdaService : IAsyncDisposable, IFunctionInvocations
{
    private const int MaxSyncPayload = 6 * 1024 * 1024;
    private const int MaxAsyncPayload = 1024 * 1024;
    private const string Latest = "$LATEST";

    /// <summary>Variables Lambda sets itself; a function may not set them (InvalidParameterValueException).</summary>
    private static readonly HashSet<string> ReservedVariables = new(StringComparer.Ordinal)
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    };

    private readonly IFunctionStore _store;
    private readonly FunctionExecutor _executor;
    private readonly IBucketObjects? _objects;
    private readonly LambdaOptions _options;
    private readonly AsyncInvoker _async;
    private readonly SemaphoreSlim _writes = new(1, 1);

    public LambdaService(IFunctionStore store, FunctionExecutor executor, LambdaOptions options, IBucketObjects? objects = null, IKinesisCalls? kinesis = null)
    {
        _store = store;
        _executor = executor;
        _objects = objects;
        _options = options;
        _async = new AsyncInvoker(this, store, options);
        Endpoint = new ModelService("lambda")
            .OnAsync("CreateFunction", CreateFunctionAsync)
            .OnAsync("GetFunction", GetFunctionAsync)
            .OnAsync("GetFunctionConfiguration", GetFunctionConfigurationAsync)
            .OnAsync("ListFunctions", ListFunctionsAsync)
            .OnAsync("DeleteFunction", DeleteFunctionAsync)
            .OnAsync("UpdateFunctionCode", UpdateFunctionCodeAsync)
            .OnAsync("UpdateFunctionConfiguration", UpdateFunctionConfigurationAsync)
            .OnAsync("PublishVersion", PublishVersionAsync)
            .OnAsync("ListVersionsByFunction", ListVersionsAsync)
            .OnAsync("CreateAlias", CreateAliasAsync)
            .OnAsync("GetAlias", GetAliasAsync)
            .OnAsync("UpdateAlias", UpdateAliasAsync)
            .OnAsync("ListAliases", ListAliasesAsync)
            .OnAsync("DeleteAlias", DeleteAliasAsync)
            .OnAsync("AddPermission", AddPermissionAsync)
            .OnAsync("RemovePermission", RemovePermissionAsync)
            .OnAsync("GetPolicy", GetPolicyAsync)
            .OnAsync("PutFunctionConcurrency", PutConcurrencyAsync)
            .OnAsync("GetFunctionConcurrency", GetConcurrencyAsync)
            .OnAsync("DeleteFunctionConcurrency", DeleteConcurrencyAsync)
            .OnAsync("TagResource", TagResourceAsync)
            .OnAsync("UntagResource", UntagResourceAsync)
            .OnAsync("ListTags", ListTagsAsync)
            .OnAsync("GetAccountSettings", GetAccountSettingsAsync)
            .OnAsync("Invoke", InvokeAsync);
        RegisterLayers();
        _mappings = new Mappings.EventSourceMappings(store, this, kinesis, options);
        _mappings.Register(Endpoint);
    }

    private readonly Mappings.EventSourceMappings _mappings;

    /// <summary>Starts the background work that was under way when the server stopped: enabled event-source mappings and queued asynchronous invocations.</summary>
    public async Task ResumeAsync(CancellationToken ct = default)
    {
        await _mappings.ResumeAsync(ct);
        _async.Start();
    }

    internal IBucketObjects? Objects => _objects;

    /// <summary>
    /// An S3 change, once durable: each function configuration of the bucket that matches gets an asynchronous
    /// invocation with AWS's S3 event, queued durably before this returns.
    /// </summary>
    public async ValueTask NotifyObjectAsync(ObjectNotification change, CancellationToken ct = default)
    {
        foreach (var target in S3Notifications.Match(change, change.ConfigurationXml))
        {
            var (name, qualifier) = ParseName(new JsonObject { ["FunctionName"] = target.FunctionArn });
            var payload = S3Notifications.Event(change, target.Id, _options.Region, _options.AccountId);
            await _async.EnqueueAsync(name, qualifier, payload, ct);
        }
    }

    /// <summary>The ARN a FunctionName designates (qualified when it names a version or alias); the function must exist.</summary>
    internal async Task<string> FunctionArnOfAsync(string functionName, CancellationToken ct)
    {
        var (name, qualifier) = ParseName(new JsonObject { ["FunctionName"] = functionName });
        await ResolveAsync(name, qualifier, ct);
        return qualifier is null ? FunctionArn(name) : $"{FunctionArn(name)}:{qualifier}";
    }

    /// <summary>The execution role of the function an ARN (qualified or not) designates; null when it is gone.</summary>
    internal async ValueTask<string?> RoleOfAsync(string functionArn, CancellationToken ct)
    {
        var (name, qualifier) = ParseName(new JsonObject { ["FunctionName"] = functionArn });
        try
        {
            var (_, config, _) = await ResolveAsync(name, qualifier, ct);
            return config["Role"]?.GetValue<string>();
        }
        catch (ServiceException e) when (e.Code == "ResourceNotFoundException")
        {
            return null;
        }
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    public FunctionExecutor Executor => _executor;

    private string FunctionArn(string name) => $"arn:aws:lambda:{_options.Region}:{_options.AccountId}:function:{name}";

    private static string LastModified(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'+0000'", CultureInfo.InvariantCulture);

    private DateTimeOffset Now => _options.Clock.GetUtcNow();

    // ---- names, ARNs and qualifiers ----

    /// <summary>The function name and qualifier a FunctionName (name, partial ARN or ARN) and Qualifier designate.</summary>
    private (string Name, string? Qualifier) ParseName(JsonObject input, string member = "FunctionName")
    {
        var text = Text(input, member)!;
        var qualifier = Text(input, "Qualifier");
        string name;
        string? derived = null;
        var m = FunctionReference().Match(text);
        if (!m.Success)
        {
            throw new ServiceException("InvalidParameterValueException", $"1 validation error detected: Value '{text}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
        }

        name = m.Groups["name"].Value;
        if (m.Groups["qualifier"].Success)
        {
            derived = m.Groups["qualifier"].Value;
        }

        if (derived is not null && qualifier is not null && derived != qualifier)
        {
            throw new ServiceException("InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier.");
        }

        return (name, derived ?? qualifier);
    }

    private static ServiceException FunctionNotFound(string arn) => new("ResourceNotFoundException", $"Function not found: {arn}");

    /// <summary>The stored version a name and qualifier resolve to (an alias resolves to its version).</summary>
    private async Task<(StoredFunctionVersion Version, JsonObject Config, string? Alias)> ResolveAsync(string name, string? qualifier, CancellationToken ct)
    {
        var version = qualifier ?? Latest;
        string? alias = null;
        if (version != Latest && !version.All(char.IsAsciiDigit))
        {
            var stored = await _store.GetAliasAsync(name, version, ct) ?? throw FunctionNotFound($"{FunctionArn(name)}:{version}");
            alias = version;
            version = JsonNode.Parse(stored.Document)!["FunctionVersion"]!.GetValue<string>();
        }

        var v = await _store.GetVersionAsync(name, version, ct)
            ?? throw FunctionNotFound(qualifier is null ? FunctionArn(name) : $"{FunctionArn(name)}:{qualifier}");
        return (v, JsonNode.Parse(v.Configuration)!.AsObject(), alias);
    }

    private async Task<JsonObject> SettingsAsync(string name, CancellationToken ct)
    {
        var text = await _store.GetSettingsAsync(name, ct) ?? throw FunctionNotFound(FunctionArn(name));
        return JsonNode.Parse(text)!.AsObject();
    }

    // ---- functions ----

    private async Task<JsonObject?> CreateFunctionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var packageType = Text(input, "PackageType") ?? "Zip";
        if (packageType == "Image")
        {
            throw new ServiceException("InvalidParameterValueException", "Container images are not supported by Millrace: it runs functions without Docker. Use a .zip file archive.");
        }

        var runtime = Text(input, "Runtime") ?? throw new ServiceException("InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
        var handler = Text(input, "Handler") ?? throw new ServiceException("InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
        CheckEnvironment(input);
        CheckLimits(input);
        var code = input["Code"] as JsonObject ?? new JsonObject();
        var archive = await ReadCodeAsync(code, ctx.Cancellation);
        var sha = FunctionCode.Sha256(archive);
        var now = Now;
        var config = new JsonObject
        {
            ["FunctionName"] = name,
            ["FunctionArn"] = FunctionArn(name),
            ["Runtime"] = runtime,
            ["Role"] = Text(input, "Role"),
            ["Handler"] = handler,
            ["CodeSize"] = archive.Length,
            ["Description"] = Text(input, "Description") ?? "",
            ["Timeout"] = Long(input, "Timeout") ?? 3,
            ["MemorySize"] = Long(input, "MemorySize") ?? 128,
            ["LastModified"] = LastModified(now),
            ["CodeSha256"] = sha,
            ["Version"] = Latest,
            ["TracingConfig"] = new JsonObject { ["Mode"] = (input["TracingConfig"] as JsonObject)?["Mode"]?.GetValue<string>() ?? "PassThrough" },
            ["RevisionId"] = Guid.NewGuid().ToString(),
            ["PackageType"] = "Zip",
            ["Architectures"] = input["Architectures"]?.DeepClone() ?? new JsonArray("x86_64"),
            ["EphemeralStorage"] = input["EphemeralStorage"]?.DeepClone() ?? new JsonObject { ["Size"] = 512 },
            ["LoggingConfig"] = new JsonObject { ["LogFormat"] = "Text", ["LogGroup"] = "/aws/lambda/" + name },
            ["SnapStart"] = new JsonObject { ["ApplyOn"] = "None", ["OptimizationStatus"] = "Off" },
        };
        if (input["Environment"] is JsonObject env)
        {
            config["Environment"] = new JsonObject { ["Variables"] = env["Variables"]?.DeepClone() ?? new JsonObject() };
        }

        if (input["Layers"] is JsonArray { Count: > 0 } layers)
        {
            config["Layers"] = await FunctionLayersAsync(layers, ctx.Cancellation);
        }

        await _store.PutCodeAsync(sha, archive, ctx.Cancellation);
        SetState(config, archive, sha);
        var settings = new JsonObject { ["NextVersion"] = 1, ["Tags"] = input["Tags"]?.DeepClone() ?? new JsonObject(), ["Policy"] = new JsonArray() };
        if (!await _store.CreateFunctionAsync(new StoredFunctionVersion(name, Latest, config.ToJsonString(), sha), settings.ToJsonString(), ctx.Cancellation))
        {
            throw new ServiceException("ResourceConflictException", $"Function already exist: {name}");
        }

        var output = ModelDocument.GetBoolean(input["Publish"]) == true ? await PublishAsync(name, null, null, ctx.Cancellation) : config.DeepClone().AsObject();

        // CreateFunction answers Pending, as AWS does; the function is Active (or Failed) by the next call.
        if (output["State"]?.GetValue<string>() == "Active")
        {
            output["State"] = "Pending";
            output["StateReason"] = "The function is being created.";
            output["StateReasonCode"] = "Creating";
        }

        return output;
    }

    /// <summary>Unpacks the code and sets State: Active when the runtime can run here, Failed with the reason otherwise.</summary>
    private void SetState(JsonObject config, byte[] archive, string sha)
    {
        var directory = FunctionCode.Unpack(Path.Combine(_options.WorkDirectory, "code"), sha, archive);
        var (_, failure) = _executor.Runtimes.Resolve(config["Runtime"]!.GetValue<string>(), directory);
        config.Remove("StateReason");
        config.Remove("StateReasonCode");
        if (failure is null)
        {
            config["State"] = "Active";
        }
        else
        {
            config["State"] = "Failed";
            config["StateReason"] = failure;
            config["StateReasonCode"] = "InvalidRuntime";
        }

        config["LastUpdateStatus"] = "Successful";
    }

    private async Task<byte[]> ReadCodeAsync(JsonObject code, CancellationToken ct)
    {
        byte[] archive;
        if (ModelDocument.GetBytes(code["ZipFile"]) is { } zip)
        {
            archive = zip;
        }
        else if (Text(code, "S3Bucket") is { } bucket && Text(code, "S3Key") is { } key)
        {
            archive = (_objects is null ? null : await _objects.ReadAsync(bucket, key, ct))
                ?? throw new ServiceException("InvalidParameterValueException", $"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.");
        }
        else if (Text(code, "ImageUri") is not null)
        {
            throw new ServiceException("InvalidParameterValueException", "Container images are not supported by Millrace: it runs functions without Docker. Use a .zip file archive.");
        }
        else
        {
            throw new ServiceException("InvalidParameterValueException", "Please provide a source for function code.");
        }

        if (archive.Length > FunctionCode.MaxZipBytes)
        {
            throw new ServiceException("RequestEntityTooLargeException", $"Zipped file size must be smaller than {FunctionCode.MaxZipBytes} bytes", 413);
        }

        if (FunctionCode.Check(archive) is { } problem)
        {
            throw new ServiceException("InvalidParameterValueException", problem);
        }

        return archive;
    }

    /// <summary>Limits AWS enforces beyond the model: Timeout at most 900 s, MemorySize at most 10,240 MB.</summary>
    private static void CheckLimits(JsonObject input)
    {
        if (Long(input, "Timeout") is > 900 and var timeout)
        {
            throw new ServiceException("ValidationException", $"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900");
        }

        if (Long(input, "MemorySize") is > 10_240 and var memory)
        {
            throw new ServiceException("ValidationException", $"1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy constraint: Member must have value less than or equal to 10240");
        }
    }

    private static void CheckEnvironment(JsonObject input)
    {
        if ((input["Environment"] as JsonObject)?["Variables"] is JsonObject vars)
        {
            var reserved = vars.Select(kv => kv.Key).Where(ReservedVariables.Contains).ToList();
            if (reserved.Count > 0)
            {
                throw new ServiceException("InvalidParameterValueException",
                    "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: " + string.Join(", ", reserved));
            }

            if (Encoding.UTF8.GetByteCount(vars.ToJsonString()) > 4096)
            {
                throw new ServiceException("InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.");
            }
        }
    }

    private async Task<JsonObject?> GetFunctionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        var (_, config, _) = await ResolveAsync(name, qualifier, ctx.Cancellation);
        var settings = await SettingsAsync(name, ctx.Cancellation);
        var output = new JsonObject
        {
            ["Configuration"] = config,
            ["Code"] = new JsonObject { ["RepositoryType"] = "S3", ["Location"] = $"{_options.ServiceEndpoint}/2015-03-31/functions/{name}/code" },
            ["Tags"] = settings["Tags"]?.DeepClone(),
        };
        if (settings["Concurrency"] is JsonValue reserved)
        {
            output["Concurrency"] = new JsonObject { ["ReservedConcurrentExecutions"] = reserved.DeepClone() };
        }

        return output;
    }

    private async Task<JsonObject?> GetFunctionConfigurationAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        return (await ResolveAsync(name, qualifier, ctx.Cancellation)).Config;
    }

    private async Task<JsonObject?> ListFunctionsAsync(JsonObject input, OperationContext ctx)
    {
        var limit = (int)(Long(input, "MaxItems") ?? 50);
        var marker = Text(input, "Marker");
        var after = marker is null ? null : DecodeMarker(marker);
        var page = await _store.ListFunctionsAsync(after, limit + 1, ctx.Cancellation);
        var functions = new JsonArray();
        foreach (var f in page.Take(limit))
        {
            if (Text(input, "FunctionVersion") == "ALL")
            {
                foreach (var v in await _store.ListVersionsAsync(f.Name, ctx.Cancellation))
                {
                    functions.Add(JsonNode.Parse(v.Configuration));
                }
            }
            else
            {
                functions.Add(JsonNode.Parse(f.Configuration));
            }
        }

        var output = new JsonObject { ["Functions"] = functions };
        if (page.Count > limit)
        {
            output["NextMarker"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(page[limit - 1].Name));
        }

        return output;
    }

    private static string DecodeMarker(string marker)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(marker));
        }
        catch (FormatException)
        {
            throw new ServiceException("InvalidParameterValueException", "Invalid Marker: " + marker);
        }
    }

    private async Task<JsonObject?> DeleteFunctionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        if (qualifier is not null && qualifier != Latest)
        {
            if (!qualifier.All(char.IsAsciiDigit))
            {
                throw new ServiceException("InvalidParameterValueException", "Deletion of aliases is not supported.");
            }

            var aliases = await _store.ListAliasesAsync(name, ctx.Cancellation);
            if (aliases.FirstOrDefault(a => JsonNode.Parse(a.Document)!["FunctionVersion"]!.GetValue<string>() == qualifier) is { } used)
            {
                throw new ServiceException("ResourceConflictException", $"Unable to delete version because the following aliases reference it: [{used.Name}]");
            }

            if (!await _store.DeleteVersionAsync(name, qualifier, ctx.Cancellation))
            {
                throw FunctionNotFound($"{FunctionArn(name)}:{qualifier}");
            }
        }
        else if (!await _store.DeleteFunctionAsync(name, ctx.Cancellation))
        {
            throw FunctionNotFound(FunctionArn(name));
        }

        await _executor.RetireAsync(name);
        return null;
    }

    private static void CheckRevision(JsonObject input, JsonObject config)
    {
        if (Text(input, "RevisionId") is { } revision && revision != config["RevisionId"]!.GetValue<string>())
        {
            throw new ServiceException("PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412);
        }
    }

    private async Task<JsonObject?> UpdateFunctionCodeAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var archive = await ReadCodeAsync(input, ctx.Cancellation);
        await _writes.WaitAsync(ctx.Cancellation);
        JsonObject config;
        try
        {
            (_, config, _) = await ResolveAsync(name, null, ctx.Cancellation);
            CheckRevision(input, config);
            if (ModelDocument.GetBoolean(input["DryRun"]) == true)
            {
                return config;
            }

            var sha = FunctionCode.Sha256(archive);
            await _store.PutCodeAsync(sha, archive, ctx.Cancellation);
            config["CodeSha256"] = sha;
            config["CodeSize"] = archive.Length;
            config["LastModified"] = LastModified(Now);
            config["RevisionId"] = Guid.NewGuid().ToString();
            SetState(config, archive, sha);
            await _store.PutVersionAsync(new StoredFunctionVersion(name, Latest, config.ToJsonString(), sha), ctx.Cancellation);
        }
        finally
        {
            _writes.Release();
        }

        await _executor.RetireAsync(name);
        return ModelDocument.GetBoolean(input["Publish"]) == true ? await PublishAsync(name, null, null, ctx.Cancellation) : config;
    }

    private async Task<JsonObject?> UpdateFunctionConfigurationAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        CheckEnvironment(input);
        CheckLimits(input);
        var layers = input["Layers"] is JsonArray list ? await FunctionLayersAsync(list, ctx.Cancellation) : null;
        await _writes.WaitAsync(ctx.Cancellation);
        JsonObject config;
        try
        {
            StoredFunctionVersion stored;
            (stored, config, _) = await ResolveAsync(name, null, ctx.Cancellation);
            CheckRevision(input, config);
            foreach (var key in new[] { "Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime", "EphemeralStorage", "TracingConfig" })
            {
                if (input[key] is { } value)
                {
                    config[key] = value.DeepClone();
                }
            }

            if (input["Environment"] is JsonObject env)
            {
                config["Environment"] = new JsonObject { ["Variables"] = env["Variables"]?.DeepClone() ?? new JsonObject() };
            }

            if (layers is not null)
            {
                // An empty list removes the function's layers.
                if (layers.Count == 0)
                {
                    config.Remove("Layers");
                }
                else
                {
                    config["Layers"] = layers;
                }
            }

            config["LastModified"] = LastModified(Now);
            config["RevisionId"] = Guid.NewGuid().ToString();
            var archive = await _store.GetCodeAsync(stored.CodeSha256, ctx.Cancellation) ?? [];
            SetState(config, archive, stored.CodeSha256);
            await _store.PutVersionAsync(stored with { Configuration = config.ToJsonString() }, ctx.Cancellation);
        }
        finally
        {
            _writes.Release();
        }

        await _executor.RetireAsync(name);
        return config;
    }

    // ---- versions ----

    private async Task<JsonObject?> PublishVersionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        return await PublishAsync(name, Text(input, "CodeSha256"), Text(input, "Description"), ctx.Cancellation, Text(input, "RevisionId"));
    }

    /// <summary>Publishes $LATEST as the next version, or answers the newest version when $LATEST has not changed since.</summary>
    private async Task<JsonObject> PublishAsync(string name, string? codeSha, string? description, CancellationToken ct, string? revisionId = null)
    {
        await _writes.WaitAsync(ct);
        try
        {
            var (latest, config, _) = await ResolveAsync(name, null, ct);
            if (codeSha is not null && codeSha != latest.CodeSha256)
            {
                throw new ServiceException("InvalidParameterValueException", $"CodeSHA256 ({codeSha}) is different from current CodeSHA256 in $LATEST ({latest.CodeSha256}). Please try again with the CodeSHA256 in $LATEST.");
            }

            if (revisionId is not null && revisionId != config["RevisionId"]!.GetValue<string>())
            {
                throw new ServiceException("PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412);
            }

            var settings = await SettingsAsync(name, ct);
            var source = config["RevisionId"]!.GetValue<string>();
            if (settings["PublishedFrom"]?.GetValue<string>() == source && settings["LastPublished"] is JsonValue last)
            {
                var existing = await _store.GetVersionAsync(name, last.GetValue<string>(), ct);
                if (existing is not null)
                {
                    return JsonNode.Parse(existing.Configuration)!.AsObject();
                }
            }

            var number = settings["NextVersion"]!.GetValue<int>();
            var version = number.ToString(CultureInfo.InvariantCulture);
            var published = config.DeepClone().AsObject();
            published["Version"] = version;
            published["FunctionArn"] = $"{FunctionArn(name)}:{version}";
            published["RevisionId"] = Guid.NewGuid().ToString();
            if (description is not null)
            {
                published["Description"] = description;
            }

            await _store.PutVersionAsync(new StoredFunctionVersion(name, version, published.ToJsonString(), latest.CodeSha256), ct);
            settings["NextVersion"] = number + 1;
            settings["LastPublished"] = version;
            settings["PublishedFrom"] = source;
            await _store.PutSettingsAsync(name, settings.ToJsonString(), ct);
            return published;
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task<JsonObject?> ListVersionsAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        await SettingsAsync(name, ctx.Cancellation);
        var versions = new JsonArray();
        foreach (var v in await _store.ListVersionsAsync(name, ctx.Cancellation))
        {
            versions.Add(JsonNode.Parse(v.Configuration));
        }

        return new JsonObject { ["Versions"] = versions };
    }

    // ---- aliases ----

    private string AliasArn(string function, string alias) => $"{FunctionArn(function)}:{alias}";

    private async Task<JsonObject?> CreateAliasAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var alias = Text(input, "Name")!;
        var version = Text(input, "FunctionVersion")!;
        await ResolveAsync(name, version, ctx.Cancellation);
        if (await _store.GetAliasAsync(name, alias, ctx.Cancellation) is not null)
        {
            throw new ServiceException("ResourceConflictException", $"Alias already exists: {AliasArn(name, alias)}");
        }

        var document = AliasDocument(name, alias, version, Text(input, "Description") ?? "", input["RoutingConfig"]);
        await _store.PutAliasAsync(new StoredAlias(name, alias, document.ToJsonString()), ctx.Cancellation);
        return document;
    }

    private JsonObject AliasDocument(string function, string alias, string version, string description, JsonNode? routing)
    {
        var document = new JsonObject
        {
            ["AliasArn"] = AliasArn(function, alias),
            ["Name"] = alias,
            ["FunctionVersion"] = version,
            ["Description"] = description,
            ["RevisionId"] = Guid.NewGuid().ToString(),
        };
        if (routing is not null)
        {
            document["RoutingConfig"] = routing.DeepClone();
        }

        return document;
    }

    private async Task<JsonObject> RequireAliasAsync(string name, string alias, CancellationToken ct)
    {
        var stored = await _store.GetAliasAsync(name, alias, ct)
            ?? throw new ServiceException("ResourceNotFoundException", $"Cannot find alias arn: {AliasArn(name, alias)}");
        return JsonNode.Parse(stored.Document)!.AsObject();
    }

    private async Task<JsonObject?> GetAliasAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        return await RequireAliasAsync(name, Text(input, "Name")!, ctx.Cancellation);
    }

    private async Task<JsonObject?> UpdateAliasAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var alias = Text(input, "Name")!;
        var current = await RequireAliasAsync(name, alias, ctx.Cancellation);
        if (Text(input, "RevisionId") is { } revision && revision != current["RevisionId"]!.GetValue<string>())
        {
            throw new ServiceException("PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id", 412);
        }

        var version = Text(input, "FunctionVersion") ?? current["FunctionVersion"]!.GetValue<string>();
        await ResolveAsync(name, version, ctx.Cancellation);
        var document = AliasDocument(name, alias, version, Text(input, "Description") ?? current["Description"]!.GetValue<string>(),
            input["RoutingConfig"] ?? current["RoutingConfig"]);
        await _store.PutAliasAsync(new StoredAlias(name, alias, document.ToJsonString()), ctx.Cancellation);
        return document;
    }

    private async Task<JsonObject?> ListAliasesAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        await SettingsAsync(name, ctx.Cancellation);
        var version = Text(input, "FunctionVersion");
        var aliases = new JsonArray();
        foreach (var a in await _store.ListAliasesAsync(name, ctx.Cancellation))
        {
            var document = JsonNode.Parse(a.Document)!;
            if (version is null || document["FunctionVersion"]!.GetValue<string>() == version)
            {
                aliases.Add(document);
            }
        }

        return new JsonObject { ["Aliases"] = aliases };
    }

    private async Task<JsonObject?> DeleteAliasAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        await _store.DeleteAliasAsync(name, Text(input, "Name")!, ctx.Cancellation);
        return null;
    }

    // ---- permissions, concurrency, tags ----

    private async Task<JsonObject?> AddPermissionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        await ResolveAsync(name, qualifier, ctx.Cancellation);
        var sid = Text(input, "StatementId")!;
        await _writes.WaitAsync(ctx.Cancellation);
        try
        {
            var settings = await SettingsAsync(name, ctx.Cancellation);
            var policy = settings["Policy"]!.AsArray();
            if (policy.Any(s => s!["Sid"]!.GetValue<string>() == sid))
            {
                throw new ServiceException("ResourceConflictException", $"The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement.");
            }

            var principal = Text(input, "Principal")!;
            var statement = new JsonObject
            {
                ["Sid"] = sid,
                ["Effect"] = "Allow",
                ["Principal"] = principal.Contains('.', StringComparison.Ordinal) ? new JsonObject { ["Service"] = principal } : new JsonObject { ["AWS"] = principal },
                ["Action"] = Text(input, "Action"),
                ["Resource"] = qualifier is null ? FunctionArn(name) : $"{FunctionArn(name)}:{qualifier}",
            };
            var condition = new JsonObject();
            if (Text(input, "SourceArn") is { } sourceArn)
            {
                condition["ArnLike"] = new JsonObject { ["AWS:SourceArn"] = sourceArn };
            }

            if (Text(input, "SourceAccount") is { } sourceAccount)
            {
                condition["StringEquals"] = new JsonObject { ["AWS:SourceAccount"] = sourceAccount };
            }

            if (condition.Count > 0)
            {
                statement["Condition"] = condition;
            }

            policy.Add(statement);
            await _store.PutSettingsAsync(name, settings.ToJsonString(), ctx.Cancellation);
            return new JsonObject { ["Statement"] = statement.ToJsonString() };
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task<JsonObject?> RemovePermissionAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var sid = Text(input, "StatementId")!;
        await _writes.WaitAsync(ctx.Cancellation);
        try
        {
            var settings = await SettingsAsync(name, ctx.Cancellation);
            var policy = settings["Policy"]!.AsArray();
            var statement = policy.FirstOrDefault(s => s!["Sid"]!.GetValue<string>() == sid)
                ?? throw new ServiceException("ResourceNotFoundException", $"Statement {sid} is not found in resource policy.");
            policy.Remove(statement);
            await _store.PutSettingsAsync(name, settings.ToJsonString(), ctx.Cancellation);
            return null;
        }
        finally
        {
            _writes.Release();
        }
    }

    private async Task<JsonObject?> GetPolicyAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        var (_, config, _) = await ResolveAsync(name, qualifier, ctx.Cancellation);
        var settings = await SettingsAsync(name, ctx.Cancellation);
        var statements = settings["Policy"]!.AsArray();
        if (statements.Count == 0)
        {
            throw new ServiceException("ResourceNotFoundException", "The resource you requested does not exist.");
        }

        var policy = new JsonObject { ["Version"] = "2012-10-17", ["Id"] = "default", ["Statement"] = statements.DeepClone() };
        return new JsonObject { ["Policy"] = policy.ToJsonString(), ["RevisionId"] = config["RevisionId"]?.DeepClone() };
    }

    private async Task<JsonObject?> PutConcurrencyAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var reserved = Long(input, "ReservedConcurrentExecutions")!.Value;
        if (reserved > _options.Concurrency)
        {
            throw new ServiceException("InvalidParameterValueException",
                $"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [0]: this server runs at most {_options.Concurrency} environments (--lambda-concurrency).");
        }

        await UpdateSettingsAsync(name, s => s["Concurrency"] = reserved, ctx.Cancellation);
        return new JsonObject { ["ReservedConcurrentExecutions"] = reserved };
    }

    private async Task<JsonObject?> GetConcurrencyAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        var settings = await SettingsAsync(name, ctx.Cancellation);
        return settings["Concurrency"] is JsonValue v ? new JsonObject { ["ReservedConcurrentExecutions"] = v.DeepClone() } : new JsonObject();
    }

    private async Task<JsonObject?> DeleteConcurrencyAsync(JsonObject input, OperationContext ctx)
    {
        var (name, _) = ParseName(input);
        await UpdateSettingsAsync(name, s => s.Remove("Concurrency"), ctx.Cancellation);
        return null;
    }

    private async Task UpdateSettingsAsync(string name, Action<JsonObject> change, CancellationToken ct)
    {
        await _writes.WaitAsync(ct);
        try
        {
            var settings = await SettingsAsync(name, ct);
            change(settings);
            await _store.PutSettingsAsync(name, settings.ToJsonString(), ct);
        }
        finally
        {
            _writes.Release();
        }
    }

    private string NameFromResourceArn(JsonObject input)
    {
        var arn = Text(input, "Resource")!;
        var m = FunctionReference().Match(arn);
        return m.Success && arn.StartsWith("arn:", StringComparison.Ordinal)
            ? m.Groups["name"].Value
            : throw new ServiceException("InvalidParameterValueException", $"Invalid resource ARN: {arn}");
    }

    private async Task<JsonObject?> TagResourceAsync(JsonObject input, OperationContext ctx)
    {
        var name = NameFromResourceArn(input);
        await UpdateSettingsAsync(name, s =>
        {
            var tags = s["Tags"]!.AsObject();
            foreach (var (k, v) in input["Tags"]!.AsObject())
            {
                tags[k] = v?.DeepClone();
            }
        }, ctx.Cancellation);
        return null;
    }

    private async Task<JsonObject?> UntagResourceAsync(JsonObject input, OperationContext ctx)
    {
        var name = NameFromResourceArn(input);
        await UpdateSettingsAsync(name, s =>
        {
            var tags = s["Tags"]!.AsObject();
            foreach (var key in input["TagKeys"]!.AsArray())
            {
                tags.Remove(key!.GetValue<string>());
            }
        }, ctx.Cancellation);
        return null;
    }

    private async Task<JsonObject?> ListTagsAsync(JsonObject input, OperationContext ctx)
    {
        var settings = await SettingsAsync(NameFromResourceArn(input), ctx.Cancellation);
        return new JsonObject { ["Tags"] = settings["Tags"]!.DeepClone() };
    }

    private Task<JsonObject?> GetAccountSettingsAsync(JsonObject input, OperationContext ctx) =>
        Task.FromResult<JsonObject?>(new JsonObject
        {
            ["AccountLimit"] = new JsonObject
            {
                ["TotalCodeSize"] = 80_530_636_800L,
                ["CodeSizeUnzipped"] = FunctionCode.MaxUnzippedBytes,
                ["CodeSizeZipped"] = FunctionCode.MaxZipBytes,
                ["ConcurrentExecutions"] = _options.Concurrency,
                ["UnreservedConcurrentExecutions"] = _options.Concurrency,
            },
            ["AccountUsage"] = new JsonObject { ["TotalCodeSize"] = 0, ["FunctionCount"] = 0 },
        });

    // ---- Invoke ----

    private async Task<JsonObject?> InvokeAsync(JsonObject input, OperationContext ctx)
    {
        var (name, qualifier) = ParseName(input);
        var type = Text(input, "InvocationType") ?? "RequestResponse";
        var payload = ModelDocument.GetBytes(input["Payload"]) ?? [];
        var limit = type == "Event" ? MaxAsyncPayload : MaxSyncPayload;
        if (payload.Length > limit)
        {
            throw new ServiceException("RequestTooLargeException", $"Request must be smaller than {limit} bytes for the InvokeFunction operation", 413);
        }

        if (payload.Length == 0)
        {
            payload = "{}"u8.ToArray();
        }
        else
        {
            try
            {
                using var _ = JsonDocument.Parse(payload);
            }
            catch (JsonException e)
            {
                throw new ServiceException("InvalidRequestContentException", $"Could not parse request body into json: Could not parse payload into json: {e.Message}", 400);
            }
        }

        var target = await PrepareAsync(name, qualifier, ctx.Cancellation);
        if (type == "DryRun")
        {
            return new JsonObject { ["StatusCode"] = 204 };
        }

        if (type == "Event")
        {
            await _async.EnqueueAsync(name, qualifier, payload, ctx.Cancellation);
            return new JsonObject { ["StatusCode"] = 202 };
        }

        var clientContext = Text(input, "ClientContext") is { } cc ? Encoding.UTF8.GetString(Convert.FromBase64String(cc)) : null;
        var outcome = await RunAsync(target, payload, clientContext, ctx.Cancellation, ctx.RequestId);
        var output = new JsonObject
        {
            ["StatusCode"] = 200,
            ["ExecutedVersion"] = outcome.ExecutedVersion,
            ["Payload"] = ModelDocument.Blob(outcome.Result.Payload),
        };
        if (outcome.Result.IsError)
        {
            output["FunctionError"] = "Unhandled";
        }

        if (Text(input, "LogType") == "Tail")
        {
            output["LogResult"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(outcome.LogText));
        }

        return output;
    }

    /// <summary>A synchronous invocation from another service (Firehose's transformations): Invoke's resolution and errors, no HTTP.</summary>
    public async Task<FunctionResponse> InvokeAsync(string function, byte[] payload, CancellationToken cancellationToken = default)
    {
        var (name, qualifier) = ParseName(new JsonObject { ["FunctionName"] = function });
        var outcome = await RunAsync(await PrepareAsync(name, qualifier, cancellationToken), payload, null, cancellationToken);
        return new FunctionResponse(outcome.Result.Payload, outcome.Result.IsError ? "Unhandled" : null);
    }

    /// <summary>What an invocation runs: the version's snapshot, the ARN it was invoked by, the reserved concurrency.</summary>
    internal sealed record InvokeTarget(FunctionInstance Instance, string InvokedArn, int? Reserved);

    internal async Task<InvokeTarget> PrepareAsync(string name, string? qualifier, CancellationToken ct)
    {
        var (version, config, _) = await ResolveAsync(name, qualifier, ct);
        if (config["State"]?.GetValue<string>() == "Failed")
        {
            throw new ServiceException("ResourceConflictException",
                $"The operation cannot be performed at this time. The function is in the Failed state: {config["StateReason"]?.GetValue<string>()}", 409);
        }

        var settings = await SettingsAsync(name, ct);
        var directory = Path.Combine(_options.WorkDirectory, "code", Convert.ToHexStringLower(Convert.FromBase64String(version.CodeSha256)));
        if (!Directory.Exists(directory))
        {
            // Unpacked code is a cache: after a restart on a new work directory it is unpacked again.
            FunctionCode.Unpack(Path.Combine(_options.WorkDirectory, "code"), version.CodeSha256, await _store.GetCodeAsync(version.CodeSha256, ct) ?? []);
        }

        var variables = ((config["Environment"] as JsonObject)?["Variables"] as JsonObject)?
            .ToDictionary(kv => kv.Key, kv => kv.Value?.GetValue<string>() ?? "", StringComparer.Ordinal) ?? [];
        var instance = new FunctionInstance(name, version.Version, config["FunctionArn"]!.GetValue<string>(), config["Runtime"]!.GetValue<string>(),
            config["Handler"]!.GetValue<string>(), config["Timeout"]!.GetValue<int>(), config["MemorySize"]!.GetValue<int>(), variables, directory,
            config["RevisionId"]!.GetValue<string>(), await LayerDirectoryAsync(config, ct),
            _options.RoleCredentials is { } credentials && config["Role"]?.GetValue<string>() is { } role ? await credentials(role, ct) : null);
        var invokedArn = qualifier is null ? FunctionArn(name) : $"{FunctionArn(name)}:{qualifier}";
        var reserved = settings["Concurrency"] is JsonValue r ? r.GetValue<int>() : (int?)null;
        return new InvokeTarget(instance, invokedArn, reserved);
    }

    internal async Task<InvokeOutcome> RunAsync(InvokeTarget target, byte[] payload, string? clientContext, CancellationToken ct, string? requestId = null)
    {
        try
        {
            return await _executor.InvokeAsync(target.Instance, payload, target.InvokedArn, target.Reserved, clientContext, ct, requestId);
        }
        catch (ThrottledException e)
        {
            throw new ServiceException("TooManyRequestsException", "Rate Exceeded.", 429)
            {
                Fields = new JsonObject { ["Reason"] = e.Reason, ["retryAfterSeconds"] = "1" },
            };
        }
        catch (RuntimeUnavailableException e)
        {
            throw new ServiceException("ServiceException", e.Message, 500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _mappings.DisposeAsync();
        await _async.DisposeAsync();
        _writes.Dispose();
    }

    // ---- helpers ----

    private static string? Text(JsonObject input, string name) => ModelDocument.GetString(input[name]);

    private static long? Long(JsonObject input, string name) => ModelDocument.GetInt64(input[name]);

    [GeneratedRegex(@"^(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}(-gov)?-[a-z]+-\d{1}:\d{12}:function:|\d{12}:function:)?(?<name>[a-zA-Z0-9\-_\.]+)(:(?<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?$")]
    private static partial Regex FunctionReference();
}
