using System.Text;

namespace Millrace.DynamoDb.Model;

/// <summary>
/// Turns key attribute values into the comparable bytes the table store orders by: S as UTF-8 (DynamoDB orders
/// strings by their UTF-8 bytes), B as is, N in an order-preserving encoding.
/// </summary>
public static class KeyCodec
{
    public static byte[] Encode(AttributeValue value) => value.Type switch
    {
        AttributeType.S => Encoding.UTF8.GetBytes(value.S),
        AttributeType.B => value.B,
        AttributeType.N => value.N.ToOrderedBytes(),
        _ => throw new ArgumentException("key attributes are S, N or B", nameof(value)),
    };
}
