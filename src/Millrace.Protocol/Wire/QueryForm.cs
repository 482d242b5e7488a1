using System.Text;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// The query protocol's form encoding (<c>Action=...&amp;Version=...&amp;A.B=1</c>) to and from the document:
/// structures by member name (or locationName), lists as <c>Name.member.N</c> (flattened: <c>Name.N</c>), maps as
/// <c>Name.entry.N.key</c>/<c>.value</c> (flattened: <c>Name.N.key</c>), an empty list as <c>Name=</c>.
/// </summary>
public static class QueryForm
{
    /// <summary>Reads the parameters (Action and Version included; they are not members) as the structure.</summary>
    public static JsonObject Read(ShapeModel? shape, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var root = new Node();
        foreach (var (key, value) in parameters)
        {
            var node = root;
            foreach (var part in key.Split('.'))
            {
                node = node.Child(part);
            }

            node.Value = value;
        }

        return shape is null ? [] : ReadStructure(shape, root);
    }

    private static JsonObject ReadStructure(ShapeModel shape, Node node)
    {
        var result = new JsonObject();
        foreach (var member in shape.Members)
        {
            if (node.Children?.TryGetValue(member.QueryName ?? member.WireName, out var child) == true)
            {
                var value = ReadValue(member.Shape, child, member);
                if (value is not null)
                {
                    result[member.Name] = value;
                }
            }
        }

        return result;
    }

    private static JsonNode? ReadValue(ShapeModel shape, Node node, MemberModel? member)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure:
                return ReadStructure(shape, node);
            case ShapeType.List:
            {
                var list = new JsonArray();
                var flattened = member?.IsFlattened ?? shape.Flattened;
                var items = flattened ? node : node.Children?.GetValueOrDefault(shape.ListMember!.LocationName ?? "member");
                foreach (var item in Indexed(items))
                {
                    list.Add(ReadValue(shape.ListMember!.Shape, item, shape.ListMember));
                }

                return list;
            }

            case ShapeType.Map:
            {
                var map = new JsonObject();
                var flattened = member?.IsFlattened ?? shape.Flattened;
                var entries = flattened ? node : node.Children?.GetValueOrDefault("entry");
                var keyName = shape.MapKey!.LocationName ?? "key";
                var valueName = shape.MapValue!.LocationName ?? "value";
                foreach (var entry in Indexed(entries))
                {
                    var key = entry.Children?.GetValueOrDefault(keyName)?.Value;
                    if (key is null)
                    {
                        continue;
                    }

                    var value = entry.Children?.GetValueOrDefault(valueName);
                    map[key] = value is null ? null : ReadValue(shape.MapValue.Shape, value, shape.MapValue);
                }

                return map;
            }

            default:
                return node.Value is null ? null : ModelDocument.ScalarFromText(shape, node.Value, member?.TimestampFormat, Timestamps.Iso8601);
        }
    }

    /// <summary>The children named 1, 2, 3, ... in numeric order.</summary>
    private static IEnumerable<Node> Indexed(Node? node)
    {
        if (node?.Children is null)
        {
            return [];
        }

        return node.Children
            .Where(c => int.TryParse(c.Key, out var i) && i > 0)
            .OrderBy(c => int.Parse(c.Key, System.Globalization.CultureInfo.InvariantCulture))
            .Select(c => c.Value);
    }

    /// <summary>Writes a structure document as form parameters (what an SDK sends; used by tests and clients).</summary>
    public static string Write(string action, string version, ShapeModel? shape, JsonObject? document)
    {
        var pairs = new List<KeyValuePair<string, string>> { new("Action", action), new("Version", version) };
        if (shape is not null && document is not null)
        {
            WriteStructure(pairs, "", shape, document);
        }

        var sb = new StringBuilder();
        foreach (var (k, v) in pairs)
        {
            if (sb.Length > 0)
            {
                sb.Append('&');
            }

            sb.Append(Uri.EscapeDataString(k)).Append('=').Append(Uri.EscapeDataString(v));
        }

        return sb.ToString();
    }

    private static void WriteStructure(List<KeyValuePair<string, string>> pairs, string prefix, ShapeModel shape, JsonObject document)
    {
        foreach (var member in shape.Members)
        {
            if (document[member.Name] is { } value)
            {
                WriteValue(pairs, prefix + member.WireName, member.Shape, value, member);
            }
        }
    }

    private static void WriteValue(List<KeyValuePair<string, string>> pairs, string name, ShapeModel shape, JsonNode value, MemberModel? member)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure when value is JsonObject obj:
                WriteStructure(pairs, name + ".", shape, obj);
                break;
            case ShapeType.List when value is JsonArray list:
                if (list.Count == 0)
                {
                    pairs.Add(new(name, ""));
                    break;
                }

                var itemPrefix = member?.IsFlattened ?? shape.Flattened ? name : name + "." + (shape.ListMember!.LocationName ?? "member");
                for (var i = 0; i < list.Count; i++)
                {
                    if (list[i] is { } item)
                    {
                        WriteValue(pairs, itemPrefix + "." + (i + 1), shape.ListMember!.Shape, item, shape.ListMember);
                    }
                }

                break;
            case ShapeType.Map when value is JsonObject map:
                var entryPrefix = member?.IsFlattened ?? shape.Flattened ? name : name + ".entry";
                var n = 0;
                foreach (var (key, item) in map)
                {
                    n++;
                    pairs.Add(new($"{entryPrefix}.{n}.{shape.MapKey!.LocationName ?? "key"}", key));
                    if (item is not null)
                    {
                        WriteValue(pairs, $"{entryPrefix}.{n}.{shape.MapValue!.LocationName ?? "value"}", shape.MapValue.Shape, item, shape.MapValue);
                    }
                }

                break;
            default:
                pairs.Add(new(name, ModelDocument.ScalarToText(shape, value, member?.TimestampFormat, Timestamps.Iso8601)));
                break;
        }
    }

    private sealed class Node
    {
        public string? Value { get; set; }

        public Dictionary<string, Node>? Children { get; private set; }

        public Node Child(string name)
        {
            Children ??= new Dictionary<string, Node>(StringComparer.Ordinal);
            if (!Children.TryGetValue(name, out var child))
            {
                child = new Node();
                Children[name] = child;
            }

            return child;
        }
    }
}
