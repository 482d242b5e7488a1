using System.Text;
using System.Text.Json;
using Millrace.Protocol;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>AddTagsToStream, RemoveTagsFromStream, ListTagsForStream and their ARN-based forms TagResource,
/// UntagResource, ListTagsForResource. Lengths (key 1–128, value 0–256) are checked by the model validator.</summary>
public sealed class TagOperations(StreamService streams)
{
    public const int MaxTagsPerStream = 50;
    private const int ListTagsDefaultLimit = 10;

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["AddTagsToStream"] = ctx => AddAsync(ctx, streams.StreamNameFrom(ctx.Input));
        operations["TagResource"] = ctx => AddAsync(ctx, ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!));
        operations["RemoveTagsFromStream"] = ctx => RemoveAsync(ctx, streams.StreamNameFrom(ctx.Input));
        operations["UntagResource"] = ctx => RemoveAsync(ctx, ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!));
        operations["ListTagsForStream"] = ListTagsForStreamAsync;
        operations["ListTagsForResource"] = ListTagsForResourceAsync;
    }

    /// <summary>The Tags map of a request, in request order.</summary>
    public static List<KeyValuePair<string, string>> ReadTags(JsonElement tags)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var p in tags.EnumerateObject())
        {
            list.Add(new(p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : ""));
        }

        return list;
    }

    /// <summary>Rejects tags with characters outside AWS's set or keys with the reserved <c>aws:</c> prefix.</summary>
    public static void CheckTags(IEnumerable<string> keys, IEnumerable<string> values, string action, string streamName, string accountId)
    {
        foreach (var text in keys.Concat(values))
        {
            if (!HasOnlyAllowedCharacters(text))
            {
                throw KinesisException.InvalidArgument(
                    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.");
            }
        }

        foreach (var key in keys)
        {
            if (key.StartsWith("aws:", StringComparison.OrdinalIgnoreCase))
            {
                throw KinesisException.InvalidArgument(
                    $"Failed to {action} stream {streamName} under account {accountId} because the tag key prefix 'aws:' is reserved for AWS use.");
            }
        }
    }

    public static KinesisException TooManyTags(string action, string streamName, string accountId) =>
        KinesisException.InvalidArgument(
            $"Failed to {action} stream {streamName} under account {accountId} because a given stream cannot have more than {MaxTagsPerStream} tags associated with it.");

    private static bool HasOnlyAllowedCharacters(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsLetterOrDigit(rune) || Rune.IsWhiteSpace(rune))
            {
                continue;
            }

            if (rune.Value is '_' or '.' or '/' or '=' or '+' or '-' or '%' or '@' or ':')
            {
                continue;
            }

            return false;
        }

        return true;
    }

    private async ValueTask AddAsync(OperationContext ctx, string streamName)
    {
        var tags = ReadTags(ctx.Input.GetProperty("Tags"));
        await ControlPlane.ChangeActiveStreamAsync(streams, streamName, ctx.CancellationToken, s =>
        {
            CheckTags(tags.Select(t => t.Key), tags.Select(t => t.Value), "add tags to", s.StreamName, streams.AccountId);
            var merged = new Dictionary<string, string>(s.Tags, StringComparer.Ordinal);
            foreach (var (key, value) in tags)
            {
                merged[key] = value; // an existing key is overwritten
            }

            if (merged.Count > MaxTagsPerStream)
            {
                throw TooManyTags("add tags to", s.StreamName, streams.AccountId);
            }

            return s with { Tags = merged };
        });
    }

    private async ValueTask RemoveAsync(OperationContext ctx, string streamName)
    {
        var keys = new List<string>();
        foreach (var k in ctx.Input.GetProperty("TagKeys").EnumerateArray())
        {
            keys.Add(k.GetString()!);
        }

        await ControlPlane.ChangeActiveStreamAsync(streams, streamName, ctx.CancellationToken, s =>
        {
            CheckTags(keys, [], "remove tags from", s.StreamName, streams.AccountId);
            var remaining = new Dictionary<string, string>(s.Tags, StringComparer.Ordinal);
            bool changed = false;
            foreach (var key in keys)
            {
                changed |= remaining.Remove(key); // keys the stream does not have are ignored
            }

            return changed ? s with { Tags = remaining } : null;
        });
    }

    private async ValueTask ListTagsForStreamAsync(OperationContext ctx)
    {
        var stream = await streams.ResolveAsync(ctx.Input, ctx.CancellationToken);
        int limit = ctx.GetInt32("Limit") ?? ListTagsDefaultLimit;
        var after = ctx.GetString("ExclusiveStartTagKey");
        var sorted = SortedTags(stream);
        int start = 0;
        if (after is not null)
        {
            while (start < sorted.Count && string.CompareOrdinal(sorted[start].Key, after) <= 0)
            {
                start++;
            }
        }

        int count = Math.Min(limit, sorted.Count - start);
        var w = ctx.Output;
        w.WriteStartObject();
        WriteTags(w, sorted, start, count);
        w.WriteBoolean("HasMoreTags", start + count < sorted.Count);
        w.WriteEndObject();
    }

    private async ValueTask ListTagsForResourceAsync(OperationContext ctx)
    {
        var name = ControlPlane.StreamNameFromResourceArn(streams, ctx.GetString("ResourceARN")!);
        var stream = await streams.FindAsync(name, ctx.CancellationToken) ?? throw streams.StreamNotFound(name);
        var sorted = SortedTags(stream);
        var w = ctx.Output;
        w.WriteStartObject();
        WriteTags(w, sorted, 0, sorted.Count);
        w.WriteEndObject();
    }

    private static List<KeyValuePair<string, string>> SortedTags(StreamDescription stream)
    {
        var sorted = stream.Tags.ToList();
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return sorted;
    }

    private static void WriteTags(Utf8JsonWriter w, List<KeyValuePair<string, string>> tags, int start, int count)
    {
        w.WriteStartArray("Tags");
        for (int i = start; i < start + count; i++)
        {
            w.WriteStartObject();
            w.WriteString("Key", tags[i].Key);
            w.WriteString("Value", tags[i].Value);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }
}
