using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Millrace.DynamoDb.Model;

/// <summary>Reading and writing whole items (attribute name → value maps) as DynamoDB JSON.</summary>
public static class Item
{
    public const int MaxItemBytes = 400 * 1024;

    public static Dictionary<string, AttributeValue> FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw DynamoDbException.Serialization();
        }

        var item = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var property in json.EnumerateObject())
        {
            item[property.Name] = AttributeValue.FromJson(property.Value);
        }

        return item;
    }

    public static void WriteJson(Utf8JsonWriter writer, IReadOnlyDictionary<string, AttributeValue> item)
    {
        writer.WriteStartObject();
        foreach (var (name, value) in item)
        {
            writer.WritePropertyName(name);
            value.WriteJson(writer);
        }

        writer.WriteEndObject();
    }

    /// <summary>The item as stored: its DynamoDB JSON in UTF-8.</summary>
    public static byte[] Serialize(IReadOnlyDictionary<string, AttributeValue> item)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, item);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static Dictionary<string, AttributeValue> Deserialize(ReadOnlyMemory<byte> body)
    {
        using var doc = JsonDocument.Parse(body);
        return FromJson(doc.RootElement);
    }

    public static int Size(IReadOnlyDictionary<string, AttributeValue> item) =>
        item.Sum(kv => Encoding.UTF8.GetByteCount(kv.Key) + kv.Value.Size);
}
