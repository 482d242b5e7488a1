using System.Text.Json;
using System.Text.Json.Serialization;

namespace Millrace.DynamoDb.Model;

/// <summary>A key attribute: its name and scalar type (S, N or B).</summary>
public sealed record KeyAttribute(string Name, string Type);

/// <summary>A global or local secondary index as CreateTable declared it.</summary>
public sealed class IndexDefinition
{
    public required string IndexName { get; init; }

    public required bool Global { get; init; }

    public required KeyAttribute Hash { get; init; }

    public KeyAttribute? Range { get; init; }

    /// <summary>ALL, KEYS_ONLY or INCLUDE.</summary>
    public required string ProjectionType { get; init; }

    public List<string>? NonKeyAttributes { get; init; }

    public long ReadCapacityUnits { get; init; }

    public long WriteCapacityUnits { get; init; }
}

/// <summary>What Millrace keeps about a table (the store holds it as opaque JSON).</summary>
public sealed class TableMetadata
{
    public required string TableName { get; init; }

    public required string TableId { get; init; }

    public required KeyAttribute Hash { get; init; }

    public KeyAttribute? Range { get; init; }

    public required List<KeyAttribute> AttributeDefinitions { get; init; }

    /// <summary>PROVISIONED or PAY_PER_REQUEST.</summary>
    public required string BillingMode { get; init; }

    public long ReadCapacityUnits { get; init; }

    public long WriteCapacityUnits { get; init; }

    public List<IndexDefinition> Indexes { get; init; } = [];

    public bool DeletionProtectionEnabled { get; set; }

    public Dictionary<string, string> Tags { get; init; } = [];

    [JsonIgnore]
    public long CreatedMs { get; set; }

    public IEnumerable<string> KeyNames => Range is null ? [Hash.Name] : [Hash.Name, Range.Name];

    public IndexDefinition? FindIndex(string name) => Indexes.FirstOrDefault(i => i.IndexName == name);

    private static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public byte[] Serialize() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    public static TableMetadata Deserialize(ReadOnlyMemory<byte> bytes, long createdMs)
    {
        var metadata = JsonSerializer.Deserialize<TableMetadata>(bytes.Span, Options) ?? throw new InvalidDataException("empty table metadata");
        metadata.CreatedMs = createdMs;
        return metadata;
    }
}
