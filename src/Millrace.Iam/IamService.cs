using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Iam.Policies;
using Millrace.Protocol.Auth;
using Millrace.Protocol.Wire;
using Millrace.Storage.Identity;

namespace Millrace.Iam;

/// <summary>
/// The IAM subset (query protocol, on the one endpoint) users manage access with: users and their access keys,
/// inline and attached AWS managed policies of users and roles, and roles with trust policies. Parsing, validation
/// and serialization come from the embedded model; the rules (quotas, conflicts, AWS's messages) are here.
/// </summary>
public sealed class IamService
{
    private const int AccessKeysPerUser = 2;

    private readonly IdentityDirectory _directory;

    public IamService(IdentityDirectory directory)
    {
        _directory = directory;
        var users = new PolicyHolder(IdentityDirectory.User, IdentityDirectory.UserPolicy, IdentityDirectory.UserAttached, "UserName", "user");
        var roles = new PolicyHolder(IdentityDirectory.Role, IdentityDirectory.RolePolicy, IdentityDirectory.RoleAttached, "RoleName", "role");
        Endpoint = new ModelService("iam")
            .OnAsync("CreateUser", CreateUserAsync)
            .OnAsync("GetUser", GetUserAsync)
            .OnAsync("ListUsers", ListUsersAsync)
            .OnAsync("DeleteUser", DeleteUserAsync)
            .OnAsync("CreateAccessKey", CreateAccessKeyAsync)
            .OnAsync("ListAccessKeys", ListAccessKeysAsync)
            .OnAsync("UpdateAccessKey", UpdateAccessKeyAsync)
            .OnAsync("DeleteAccessKey", DeleteAccessKeyAsync)
            .OnAsync("PutUserPolicy", (i, c) => PutPolicyAsync(users, i, c))
            .OnAsync("GetUserPolicy", (i, c) => GetPolicyAsync(users, i, c))
            .OnAsync("ListUserPolicies", (i, c) => ListPoliciesAsync(users, i, c))
            .OnAsync("DeleteUserPolicy", (i, c) => DeletePolicyAsync(users, i, c))
            .OnAsync("AttachUserPolicy", (i, c) => AttachAsync(users, i, c))
            .OnAsync("DetachUserPolicy", (i, c) => DetachAsync(users, i, c))
            .OnAsync("ListAttachedUserPolicies", (i, c) => ListAttachedAsync(users, i, c))
            .OnAsync("CreateRole", CreateRoleAsync)
            .OnAsync("GetRole", GetRoleAsync)
            .OnAsync("ListRoles", ListRolesAsync)
            .OnAsync("DeleteRole", DeleteRoleAsync)
            .OnAsync("PutRolePolicy", (i, c) => PutPolicyAsync(roles, i, c))
            .OnAsync("GetRolePolicy", (i, c) => GetPolicyAsync(roles, i, c))
            .OnAsync("ListRolePolicies", (i, c) => ListPoliciesAsync(roles, i, c))
            .OnAsync("DeleteRolePolicy", (i, c) => DeletePolicyAsync(roles, i, c))
            .OnAsync("AttachRolePolicy", (i, c) => AttachAsync(roles, i, c))
            .OnAsync("DetachRolePolicy", (i, c) => DetachAsync(roles, i, c))
            .OnAsync("ListAttachedRolePolicies", (i, c) => ListAttachedAsync(roles, i, c))
            .OnAsync("GetPolicy", GetManagedPolicyAsync);
    }

    /// <summary>The service on the one endpoint.</summary>
    public ModelService Endpoint { get; }

    private SqliteIdentityStore Store => _directory.Store;

    private long Now => _directory.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Users and roles hold policies the same way; this names their kinds and the words of AWS's messages.</summary>
    private sealed record PolicyHolder(string Kind, string InlineKind, string AttachedKind, string NameMember, string Noun);

    // ---- users ----

    private async Task<JsonObject?> CreateUserAsync(JsonObject input, OperationContext context)
    {
        var name = (string)input["UserName"]!;
        var path = (string?)input["Path"] ?? "/";
        var doc = new JsonObject { ["UserId"] = IdentityDirectory.NewId("AIDA", 17), ["Path"] = path, ["CreateDate"] = Now };
        if (!await Store.CreateAsync(new IdentityEntity(IdentityDirectory.User, "", name, doc.ToJsonString()), context.Cancellation))
        {
            throw new ServiceException("EntityAlreadyExists", $"User with name {name} already exists.", 409);
        }

        return new JsonObject { ["User"] = UserOf(name, doc) };
    }

    private async Task<JsonObject?> GetUserAsync(JsonObject input, OperationContext context)
    {
        var name = (string?)input["UserName"];
        if (name is null)
        {
            var caller = await IamCaller.ResolveAsync(_directory, context);
            if (caller.Kind != PrincipalKind.User)
            {
                return new JsonObject
                {
                    ["User"] = new JsonObject
                    {
                        ["Path"] = "/", ["UserName"] = "", ["UserId"] = caller.UserId, ["Arn"] = caller.Arn,
                        ["CreateDate"] = DateTimeOffset.UnixEpoch,
                    },
                };
            }

            name = caller.Name;
        }

        return new JsonObject { ["User"] = UserOf(name, await RequireAsync(IdentityDirectory.User, name, "user", context)) };
    }

    private async Task<JsonObject?> ListUsersAsync(JsonObject input, OperationContext context)
    {
        var prefix = (string?)input["PathPrefix"] ?? "/";
        var users = (await Store.ListAsync(IdentityDirectory.User, "", context.Cancellation))
            .Select(u => (u.Name, Doc: JsonNode.Parse(u.Document)!.AsObject()))
            .Where(u => ((string)u.Doc["Path"]!).StartsWith(prefix, StringComparison.Ordinal));
        return Page(input, users.Select(u => (u.Name, (JsonNode)UserOf(u.Name, u.Doc))), "Users");
    }

    private async Task<JsonObject?> DeleteUserAsync(JsonObject input, OperationContext context)
    {
        var name = (string)input["UserName"]!;
        await RequireAsync(IdentityDirectory.User, name, "user", context);
        if ((await Store.ListAsync(IdentityDirectory.Key, name, context.Cancellation)).Count > 0)
        {
            throw new ServiceException("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409);
        }

        if ((await Store.ListAsync(IdentityDirectory.UserPolicy, name, context.Cancellation)).Count > 0)
        {
            throw new ServiceException("DeleteConflict", "Cannot delete entity, must delete policies first.", 409);
        }

        if ((await Store.ListAsync(IdentityDirectory.UserAttached, name, context.Cancellation)).Count > 0)
        {
            throw new ServiceException("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409);
        }

        await Store.DeleteAsync(IdentityDirectory.User, "", name, context.Cancellation);
        return null;
    }

    private JsonObject UserOf(string name, JsonObject doc) => new()
    {
        ["Path"] = (string)doc["Path"]!,
        ["UserName"] = name,
        ["UserId"] = (string)doc["UserId"]!,
        ["Arn"] = _directory.UserArn(name, (string)doc["Path"]!),
        ["CreateDate"] = DateTimeOffset.FromUnixTimeMilliseconds((long)doc["CreateDate"]!),
    };

    // ---- access keys ----

    /// <summary>The user an access-key call is about: UserName, or the caller's own (root: the root user, owner "").</summary>
    private async Task<(string Owner, string? UserName)> KeyOwnerAsync(JsonObject input, OperationContext context)
    {
        if ((string?)input["UserName"] is { } name)
        {
            await RequireAsync(IdentityDirectory.User, name, "user", context);
            return (name, name);
        }

        var caller = await IamCaller.ResolveAsync(_directory, context);
        return caller.Kind switch
        {
            PrincipalKind.User => (caller.Name, caller.Name),
            PrincipalKind.Root => (IdentityDirectory.RootOwner, null),
            _ => throw new ServiceException("ValidationError", "Must specify userName when calling with non-User credentials", 400),
        };
    }

    private async Task<JsonObject?> CreateAccessKeyAsync(JsonObject input, OperationContext context)
    {
        var (owner, userName) = await KeyOwnerAsync(input, context);
        if ((await Store.ListAsync(IdentityDirectory.Key, owner, context.Cancellation)).Count >= AccessKeysPerUser)
        {
            throw new ServiceException("LimitExceeded", $"Cannot exceed quota for AccessKeysPerUser: {AccessKeysPerUser}", 409);
        }

        var id = IdentityDirectory.NewId("AKIA", 16);
        var secret = IdentityDirectory.NewSecret();
        JsonObject? extra = null;
        if (userName is not null)
        {
            var user = JsonNode.Parse((await Store.GetAsync(IdentityDirectory.User, "", userName, context.Cancellation))!.Document)!.AsObject();
            extra = new JsonObject { ["UserId"] = (string)user["UserId"]!, ["UserPath"] = (string)user["Path"]! };
        }

        var doc = _directory.KeyDocument(id, secret, extra);
        await Store.PutAsync(new IdentityEntity(IdentityDirectory.Key, owner, id, doc.ToJsonString()), context.Cancellation);
        _directory.Invalidate(id);
        return new JsonObject
        {
            ["AccessKey"] = new JsonObject
            {
                ["UserName"] = userName ?? "",
                ["AccessKeyId"] = id,
                ["Status"] = "Active",
                ["SecretAccessKey"] = secret,
                ["CreateDate"] = DateTimeOffset.FromUnixTimeMilliseconds((long)doc["CreateDate"]!),
            },
        };
    }

    private async Task<JsonObject?> ListAccessKeysAsync(JsonObject input, OperationContext context)
    {
        var (owner, userName) = await KeyOwnerAsync(input, context);
        var keys = await Store.ListAsync(IdentityDirectory.Key, owner, context.Cancellation);
        return Page(input, keys.Select(k =>
        {
            var doc = JsonNode.Parse(k.Document)!;
            return (k.Name, (JsonNode)new JsonObject
            {
                ["UserName"] = userName ?? "",
                ["AccessKeyId"] = k.Name,
                ["Status"] = (string)doc["Status"]!,
                ["CreateDate"] = DateTimeOffset.FromUnixTimeMilliseconds((long)doc["CreateDate"]!),
            });
        }), "AccessKeyMetadata");
    }

    private async Task<JsonObject?> UpdateAccessKeyAsync(JsonObject input, OperationContext context)
    {
        var (owner, _) = await KeyOwnerAsync(input, context);
        var id = (string)input["AccessKeyId"]!;
        var entity = await Store.GetAsync(IdentityDirectory.Key, owner, id, context.Cancellation) ?? throw KeyNotFound(id);
        var doc = JsonNode.Parse(entity.Document)!.AsObject();
        doc["Status"] = (string)input["Status"]!;
        await Store.PutAsync(entity with { Document = doc.ToJsonString() }, context.Cancellation);
        _directory.Invalidate(id);
        return null;
    }

    private async Task<JsonObject?> DeleteAccessKeyAsync(JsonObject input, OperationContext context)
    {
        var (owner, _) = await KeyOwnerAsync(input, context);
        var id = (string)input["AccessKeyId"]!;
        if (!await Store.DeleteAsync(IdentityDirectory.Key, owner, id, context.Cancellation))
        {
            throw KeyNotFound(id);
        }

        _directory.Invalidate(id);
        return null;
    }

    private static ServiceException KeyNotFound(string id) => new("NoSuchEntity", $"The Access Key with id {id} cannot be found.", 404);

    // ---- policies of users and roles ----

    private async Task<JsonObject?> PutPolicyAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        var document = (string)input["PolicyDocument"]!;
        Validate(document);
        await Store.PutAsync(new IdentityEntity(holder.InlineKind, owner, (string)input["PolicyName"]!, new JsonObject { ["Document"] = document }.ToJsonString()),
            context.Cancellation);
        return null;
    }

    private async Task<JsonObject?> GetPolicyAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        var name = (string)input["PolicyName"]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        var entity = await Store.GetAsync(holder.InlineKind, owner, name, context.Cancellation)
            ?? throw new ServiceException("NoSuchEntity", $"The {holder.Noun} policy with name {name} cannot be found.", 404);
        return new JsonObject
        {
            [holder.NameMember] = owner,
            ["PolicyName"] = name,
            // IAM returns policy documents URL-encoded (the SDKs decode them).
            ["PolicyDocument"] = Uri.EscapeDataString((string)JsonNode.Parse(entity.Document)!["Document"]!),
        };
    }

    private async Task<JsonObject?> ListPoliciesAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        var policies = await Store.ListAsync(holder.InlineKind, owner, context.Cancellation);
        return Page(input, policies.Select(p => (p.Name, (JsonNode)JsonValue.Create(p.Name))), "PolicyNames");
    }

    private async Task<JsonObject?> DeletePolicyAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        var name = (string)input["PolicyName"]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        if (!await Store.DeleteAsync(holder.InlineKind, owner, name, context.Cancellation))
        {
            throw new ServiceException("NoSuchEntity", $"The {holder.Noun} policy with name {name} cannot be found.", 404);
        }

        return null;
    }

    private async Task<JsonObject?> AttachAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        var arn = (string)input["PolicyArn"]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        if (ManagedPolicies.Find(arn) is null)
        {
            throw new ServiceException("NoSuchEntity", $"Policy {arn} does not exist or is not attachable.", 404);
        }

        await Store.PutAsync(new IdentityEntity(holder.AttachedKind, owner, arn, "{}"), context.Cancellation);
        return null;
    }

    private async Task<JsonObject?> DetachAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        var arn = (string)input["PolicyArn"]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        if (!await Store.DeleteAsync(holder.AttachedKind, owner, arn, context.Cancellation))
        {
            throw new ServiceException("NoSuchEntity", $"Policy {arn} was not found.", 404);
        }

        return null;
    }

    private async Task<JsonObject?> ListAttachedAsync(PolicyHolder holder, JsonObject input, OperationContext context)
    {
        var owner = (string)input[holder.NameMember]!;
        await RequireAsync(holder.Kind, owner, holder.Noun, context);
        var attached = await Store.ListAsync(holder.AttachedKind, owner, context.Cancellation);
        return Page(input, attached.Select(a => (a.Name, (JsonNode)new JsonObject
        {
            ["PolicyName"] = ManagedPolicies.Find(a.Name)?.Name ?? a.Name[(a.Name.LastIndexOf('/') + 1)..],
            ["PolicyArn"] = a.Name,
        })), "AttachedPolicies");
    }

    private Task<JsonObject?> GetManagedPolicyAsync(JsonObject input, OperationContext context)
    {
        var arn = (string)input["PolicyArn"]!;
        var policy = ManagedPolicies.Find(arn) ?? throw new ServiceException("NoSuchEntity", $"Policy {arn} does not exist or is not attachable.", 404);
        return Task.FromResult<JsonObject?>(new JsonObject
        {
            ["Policy"] = new JsonObject
            {
                ["PolicyName"] = policy.Name,
                ["PolicyId"] = "ANPA" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(arn)))[..17],
                ["Arn"] = policy.Arn,
                ["Path"] = policy.Path,
                ["DefaultVersionId"] = policy.DefaultVersionId,
                ["AttachmentCount"] = 0,
                ["IsAttachable"] = true,
                ["Description"] = policy.Description,
                ["CreateDate"] = policy.CreateDate,
                ["UpdateDate"] = policy.UpdateDate,
            },
        });
    }

    // ---- roles ----

    private async Task<JsonObject?> CreateRoleAsync(JsonObject input, OperationContext context)
    {
        var name = (string)input["RoleName"]!;
        var trust = (string)input["AssumeRolePolicyDocument"]!;
        Validate(trust);
        var doc = new JsonObject
        {
            ["RoleId"] = IdentityDirectory.NewId("AROA", 17),
            ["Path"] = (string?)input["Path"] ?? "/",
            ["CreateDate"] = Now,
            ["AssumeRolePolicyDocument"] = trust,
            ["Description"] = (string?)input["Description"],
            ["MaxSessionDuration"] = (int?)ModelDocument.GetInt64(input["MaxSessionDuration"]) ?? 3600,
        };
        if (!await Store.CreateAsync(new IdentityEntity(IdentityDirectory.Role, "", name, doc.ToJsonString()), context.Cancellation))
        {
            throw new ServiceException("EntityAlreadyExists", $"Role with name {name} already exists.", 409);
        }

        return new JsonObject { ["Role"] = RoleOf(name, doc) };
    }

    private async Task<JsonObject?> GetRoleAsync(JsonObject input, OperationContext context)
    {
        var name = (string)input["RoleName"]!;
        return new JsonObject { ["Role"] = RoleOf(name, await RequireAsync(IdentityDirectory.Role, name, "role", context)) };
    }

    private async Task<JsonObject?> ListRolesAsync(JsonObject input, OperationContext context)
    {
        var roles = await Store.ListAsync(IdentityDirectory.Role, "", context.Cancellation);
        return Page(input, roles.Select(r => (r.Name, (JsonNode)RoleOf(r.Name, JsonNode.Parse(r.Document)!.AsObject()))), "Roles");
    }

    private async Task<JsonObject?> DeleteRoleAsync(JsonObject input, OperationContext context)
    {
        var name = (string)input["RoleName"]!;
        await RequireAsync(IdentityDirectory.Role, name, "role", context);
        if ((await Store.ListAsync(IdentityDirectory.RolePolicy, name, context.Cancellation)).Count > 0
            || (await Store.ListAsync(IdentityDirectory.RoleAttached, name, context.Cancellation)).Count > 0)
        {
            throw new ServiceException("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409);
        }

        await Store.DeleteAsync(IdentityDirectory.Role, "", name, context.Cancellation);
        return null;
    }

    private JsonObject RoleOf(string name, JsonObject doc)
    {
        var role = new JsonObject
        {
            ["Path"] = (string)doc["Path"]!,
            ["RoleName"] = name,
            ["RoleId"] = (string)doc["RoleId"]!,
            ["Arn"] = _directory.RoleArn(name, (string)doc["Path"]!),
            ["CreateDate"] = DateTimeOffset.FromUnixTimeMilliseconds((long)doc["CreateDate"]!),
            ["AssumeRolePolicyDocument"] = Uri.EscapeDataString((string)doc["AssumeRolePolicyDocument"]!),
            ["MaxSessionDuration"] = (int)doc["MaxSessionDuration"]!,
        };
        if ((string?)doc["Description"] is { } description)
        {
            role["Description"] = description;
        }

        return role;
    }

    // ---- shared ----

    private async Task<JsonObject> RequireAsync(string kind, string name, string noun, OperationContext context)
    {
        var entity = await Store.GetAsync(kind, "", name, context.Cancellation)
            ?? throw new ServiceException("NoSuchEntity", $"The {noun} with name {name} cannot be found.", 404);
        return JsonNode.Parse(entity.Document)!.AsObject();
    }

    private static void Validate(string document)
    {
        try
        {
            PolicyDocument.Parse(document);
        }
        catch (PolicySyntaxException e)
        {
            throw new ServiceException("MalformedPolicyDocument", e.Message, 400);
        }
    }

    /// <summary>IAM's paging: Marker (the last name of the previous page) and MaxItems (default 100), IsTruncated.</summary>
    private static JsonObject Page(JsonObject input, IEnumerable<(string Name, JsonNode Item)> items, string member)
    {
        var marker = (string?)input["Marker"];
        var max = (int?)ModelDocument.GetInt64(input["MaxItems"]) ?? 100;
        var after = items.Where(i => marker is null || string.CompareOrdinal(i.Name, marker) > 0).Take(max + 1).ToList();
        var page = after.Take(max).ToList();
        var output = new JsonObject { [member] = new JsonArray([.. page.Select(i => i.Item)]), ["IsTruncated"] = after.Count > max };
        if (after.Count > max)
        {
            output["Marker"] = page[^1].Name;
        }

        return output;
    }
}
