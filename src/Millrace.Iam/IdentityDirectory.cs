using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Millrace.Protocol.Auth;
using Millrace.Storage.Identity;

namespace Millrace.Iam;

/// <summary>
/// The account's identities over a <see cref="SqliteIdentityStore"/>: the root key, IAM users with their access keys
/// and policies, roles with their trust and permission policies, and STS role sessions. It is the
/// <see cref="IAccessKeys"/> the front door verifies signatures with (keys are cached in memory, written through).
/// </summary>
public sealed class IdentityDirectory(SqliteIdentityStore store, SecretSealer sealer, string accountId, TimeProvider clock) : IAccessKeys
{
    internal const string User = "user";
    internal const string Role = "role";
    internal const string Key = "key";
    internal const string UserPolicy = "user-policy";
    internal const string UserAttached = "user-attached";
    internal const string RolePolicy = "role-policy";
    internal const string RoleAttached = "role-attached";
    internal const string RootOwner = "";
    internal const string SessionOwnerPrefix = "role:";

    // Base32 alphabet of AWS's access key ids and unique ids.
    private const string IdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private readonly ConcurrentDictionary<string, SigningKey?> _keys = new(StringComparer.Ordinal);

    public string AccountId => accountId;

    public SqliteIdentityStore Store => store;

    public TimeProvider Clock => clock;

    public string RootArn => $"arn:aws:iam::{accountId}:root";

    public CallerIdentity Root(string accessKeyId) => new(PrincipalKind.Root, accountId, RootArn, accountId, accessKeyId, "");

    /// <summary>
    /// Makes sure the account has a root key: the one given (stored, replacing earlier root keys) or, when none is
    /// given and none is stored, a generated one. Returns the key id and, only when it was generated now, its secret.
    /// </summary>
    public async Task<(string AccessKeyId, string? GeneratedSecret)> EnsureRootKeyAsync(string? accessKeyId, string? secret, CancellationToken ct = default)
    {
        var existing = await store.ListAsync(Key, RootOwner, ct);
        if (accessKeyId is not null && secret is not null)
        {
            foreach (var old in existing.Where(e => e.Name != accessKeyId))
            {
                await store.DeleteAsync(Key, RootOwner, old.Name, ct);
                _keys.TryRemove(old.Name, out _);
            }

            await store.PutAsync(new IdentityEntity(Key, RootOwner, accessKeyId, KeyDocument(accessKeyId, secret).ToJsonString()), ct);
            _keys.TryRemove(accessKeyId, out _);
            return (accessKeyId, null);
        }

        if (existing.Count > 0)
        {
            return (existing[0].Name, null);
        }

        var id = NewId("AKIA", 16);
        var generated = NewSecret();
        await store.PutAsync(new IdentityEntity(Key, RootOwner, id, KeyDocument(id, generated).ToJsonString()), ct);
        return (id, generated);
    }

    /// <inheritdoc/>
    public async ValueTask<SigningKey?> FindAsync(string accessKeyId, CancellationToken cancellationToken = default)
    {
        if (_keys.TryGetValue(accessKeyId, out var cached))
        {
            return cached;
        }

        var entity = await store.FindAsync(Key, accessKeyId, cancellationToken);
        var key = entity is null ? null : ToSigningKey(entity);
        _keys[accessKeyId] = key;
        return key;
    }

    /// <summary>Forgets a cached key after it changed.</summary>
    internal void Invalidate(string accessKeyId) => _keys.TryRemove(accessKeyId, out _);

    private SigningKey ToSigningKey(IdentityEntity entity)
    {
        var doc = JsonNode.Parse(entity.Document)!.AsObject();
        var secret = sealer.Open(entity.Name, (string)doc["Secret"]!);
        var active = (string?)doc["Status"] != "Inactive";
        if (entity.Parent == RootOwner)
        {
            return new SigningKey(entity.Name, secret, Root(entity.Name), active);
        }

        if (entity.Parent.StartsWith(SessionOwnerPrefix, StringComparison.Ordinal))
        {
            var roleName = entity.Parent[SessionOwnerPrefix.Length..];
            var session = (string)doc["SessionName"]!;
            var caller = new CallerIdentity(PrincipalKind.AssumedRole, accountId, $"arn:aws:sts::{accountId}:assumed-role/{roleName}/{session}",
                $"{(string)doc["RoleId"]!}:{session}", entity.Name, roleName)
            {
                RoleArn = (string?)doc["RoleArn"],
            };
            return new SigningKey(entity.Name, secret, caller, active, (string?)doc["SessionToken"],
                DateTimeOffset.FromUnixTimeMilliseconds((long)doc["Expiration"]!));
        }

        var userId = (string?)doc["UserId"] ?? entity.Parent;
        return new SigningKey(entity.Name, secret,
            new CallerIdentity(PrincipalKind.User, accountId, UserArn(entity.Parent, (string?)doc["UserPath"] ?? "/"), userId, entity.Name, entity.Parent), active);
    }

    public string UserArn(string name, string path = "/") => $"arn:aws:iam::{accountId}:user{path}{name}";

    public string RoleArn(string name, string path = "/") => $"arn:aws:iam::{accountId}:role{path}{name}";

    /// <summary>A key document: the sealed secret, status and creation time, plus <paramref name="extra"/> members.</summary>
    internal JsonObject KeyDocument(string accessKeyId, string secret, JsonObject? extra = null)
    {
        var doc = new JsonObject
        {
            ["Secret"] = sealer.Seal(accessKeyId, secret),
            ["Status"] = "Active",
            ["CreateDate"] = clock.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        foreach (var (name, value) in extra ?? [])
        {
            doc[name] = value?.DeepClone();
        }

        return doc;
    }

    /// <summary>An id in AWS's style: a four-letter prefix (AKIA, ASIA, AIDA, AROA) and base32 characters.</summary>
    public static string NewId(string prefix, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = IdAlphabet[RandomNumberGenerator.GetInt32(IdAlphabet.Length)];
        }

        return prefix + new string(chars);
    }

    /// <summary>A 40-character secret access key.</summary>
    public static string NewSecret() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(30)).Replace('+', 'P').Replace('/', 'S');

    /// <summary>A role session's temporary credentials, as AssumeRole returns them.</summary>
    public sealed record RoleSession(string AccessKeyId, string SecretAccessKey, string SessionToken, DateTimeOffset Expiration, string AssumedRoleId, string Arn);

    /// <summary>
    /// Issues temporary credentials for a session of a role (no trust check: STS checks it, and Millrace's own
    /// services act as the roles their configuration names). Expired sessions of the role are deleted. Null when
    /// the role does not exist.
    /// </summary>
    public async Task<RoleSession?> IssueRoleSessionAsync(string roleName, string sessionName, TimeSpan duration, string? sessionPolicy, CancellationToken ct = default)
    {
        var roleEntity = await store.GetAsync(Role, "", roleName, ct);
        if (roleEntity is null)
        {
            return null;
        }

        var role = JsonNode.Parse(roleEntity.Document)!.AsObject();
        var now = clock.GetUtcNow();
        var owner = SessionOwnerPrefix + roleName;
        foreach (var old in await store.ListAsync(Key, owner, ct))
        {
            if ((long?)JsonNode.Parse(old.Document)?["Expiration"] is { } expires && expires <= now.ToUnixTimeMilliseconds())
            {
                await store.DeleteAsync(Key, owner, old.Name, ct);
                Invalidate(old.Name);
            }
        }

        var id = NewId("ASIA", 16);
        var secret = NewSecret();
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(96));
        var expiration = now + duration;
        var roleId = (string)role["RoleId"]!;
        var roleArn = RoleArn(roleName, (string)role["Path"]!);
        var doc = KeyDocument(id, secret, new JsonObject
        {
            ["SessionToken"] = token,
            ["Expiration"] = expiration.ToUnixTimeMilliseconds(),
            ["SessionName"] = sessionName,
            ["RoleArn"] = roleArn,
            ["RoleId"] = roleId,
            ["SessionPolicy"] = sessionPolicy,
        });
        await store.PutAsync(new IdentityEntity(Key, owner, id, doc.ToJsonString()), ct);
        return new RoleSession(id, secret, token, expiration, $"{roleId}:{sessionName}", $"arn:aws:sts::{accountId}:assumed-role/{roleName}/{sessionName}");
    }

    /// <summary>The identity-based policy documents that apply to a caller: its inline and attached policies (a
    /// role session's are its role's, plus the session policy). Root has none (it is allowed everything).</summary>
    public async Task<IReadOnlyList<string>> IdentityPoliciesAsync(CallerIdentity caller, CancellationToken ct = default)
    {
        var (inline, attached) = caller.Kind switch
        {
            PrincipalKind.User => (UserPolicy, UserAttached),
            PrincipalKind.AssumedRole => (RolePolicy, RoleAttached),
            _ => (null, null),
        };
        if (inline is null)
        {
            return [];
        }

        var documents = new List<string>();
        foreach (var policy in await store.ListAsync(inline, caller.Name, ct))
        {
            documents.Add((string)JsonNode.Parse(policy.Document)!["Document"]!);
        }

        foreach (var policy in await store.ListAsync(attached!, caller.Name, ct))
        {
            if (ManagedPolicies.Find(policy.Name) is { } managed)
            {
                documents.Add(managed.Document);
            }
        }

        return documents;
    }

    /// <summary>The session policy an AssumeRole call passed, if any (it narrows the role's permissions).</summary>
    public async Task<string?> SessionPolicyAsync(CallerIdentity caller, CancellationToken ct = default)
    {
        if (caller.Kind != PrincipalKind.AssumedRole)
        {
            return null;
        }

        var entity = await store.FindAsync(Key, caller.AccessKeyId, ct);
        return entity is null ? null : (string?)JsonNode.Parse(entity.Document)!["SessionPolicy"];
    }
}
