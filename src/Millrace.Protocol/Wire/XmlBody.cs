using System.Text;
using System.Text.Json.Nodes;
using System.Xml;
using System.Xml.Linq;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// XML bodies (rest-xml, query responses) to and from the document, by shape: members are elements named by their
/// locationName (or attributes with <c>xmlAttribute</c>), lists are <c>&lt;member&gt;</c> items or, when flattened,
/// repeated elements; maps are <c>&lt;entry&gt;&lt;key/&gt;&lt;value/&gt;&lt;/entry&gt;</c> (or flattened). Timestamps are ISO 8601
/// unless the model says otherwise.
/// </summary>
public static class XmlBody
{
    public static XElement? Parse(ReadOnlyMemory<byte> body)
    {
        if (body.IsEmpty)
        {
            return null;
        }

        try
        {
            using var stream = new MemoryStream(body.ToArray());
            var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null };
            using var reader = XmlReader.Create(stream, settings);
            return XDocument.Load(reader).Root;
        }
        catch (XmlException ex)
        {
            throw new ServiceException("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: " + ex.Message);
        }
    }

    /// <summary>Reads the children of <paramref name="element"/> as the structure <paramref name="shape"/>.</summary>
    public static JsonObject ReadStructure(ShapeModel shape, XElement element, Func<MemberModel, bool>? bodyMember = null)
    {
        var result = new JsonObject();
        foreach (var member in shape.Members)
        {
            if (bodyMember is not null && !bodyMember(member))
            {
                continue;
            }

            if (member.XmlAttribute)
            {
                var attribute = FindAttribute(element, member.WireName);
                if (attribute is not null)
                {
                    result[member.Name] = ModelDocument.ScalarFromText(member.Shape, attribute.Value, member.TimestampFormat, Timestamps.Iso8601);
                }

                continue;
            }

            var value = ReadMember(member, element);
            if (value is not null)
            {
                result[member.Name] = value;
            }
        }

        return result;
    }

    private static XAttribute? FindAttribute(XElement element, string name)
    {
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        var local = colon < 0 ? name : name[(colon + 1)..];
        return element.Attributes().FirstOrDefault(a => a.Name.LocalName == local);
    }

    private static IEnumerable<XElement> Children(XElement parent, string name) => parent.Elements().Where(e => e.Name.LocalName == name);

    private static JsonNode? ReadMember(MemberModel member, XElement parent)
    {
        var shape = member.Shape;
        if (shape.Type == ShapeType.List && member.IsFlattened)
        {
            var name = shape.ListMember!.LocationName ?? member.WireName;
            var items = Children(parent, name).ToList();
            return items.Count == 0 ? null : new JsonArray([.. items.Select(i => ReadValue(shape.ListMember.Shape, i, shape.ListMember.TimestampFormat))]);
        }

        if (shape.Type == ShapeType.Map && member.IsFlattened)
        {
            var entries = Children(parent, member.WireName).ToList();
            return entries.Count == 0 ? null : ReadEntries(shape, entries);
        }

        var element = Children(parent, member.WireName).FirstOrDefault();
        return element is null ? null : ReadValue(shape, element, member.TimestampFormat);
    }

    public static JsonNode? ReadValue(ShapeModel shape, XElement element, string? timestampFormat = null)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure:
                return ReadStructure(shape, element);
            case ShapeType.List:
                var itemName = shape.ListMember!.LocationName ?? "member";
                var list = new JsonArray();
                var items = shape.Flattened ? [element] : Children(element, itemName);
                foreach (var item in items)
                {
                    list.Add(ReadValue(shape.ListMember.Shape, item, shape.ListMember.TimestampFormat));
                }

                return list;
            case ShapeType.Map:
                return ReadEntries(shape, shape.Flattened ? [element] : Children(element, "entry"));
            default:
                return ModelDocument.ScalarFromText(shape, element.Value, timestampFormat, Timestamps.Iso8601);
        }
    }

    private static JsonObject ReadEntries(ShapeModel shape, IEnumerable<XElement> entries)
    {
        var keyName = shape.MapKey!.LocationName ?? "key";
        var valueName = shape.MapValue!.LocationName ?? "value";
        var map = new JsonObject();
        foreach (var entry in entries)
        {
            var key = Children(entry, keyName).FirstOrDefault()?.Value ?? "";
            var value = Children(entry, valueName).FirstOrDefault();
            map[key] = value is null ? null : ReadValue(shape.MapValue.Shape, value, shape.MapValue.TimestampFormat);
        }

        return map;
    }

    /// <summary>Writes the members of a structure document as child elements of the writer's current element.</summary>
    public static void WriteMembers(XmlWriter writer, ShapeModel shape, JsonObject document, Func<MemberModel, bool>? bodyMember = null)
    {
        // Attributes first: the writer must see them before any child content.
        foreach (var member in shape.Members)
        {
            if (member.XmlAttribute && (bodyMember is null || bodyMember(member)) && document[member.Name] is { } attribute)
            {
                var name = member.WireName;
                var colon = name.IndexOf(':', StringComparison.Ordinal);
                var text = ModelDocument.ScalarToText(member.Shape, attribute, member.TimestampFormat, Timestamps.Iso8601);
                if (colon > 0 && name[..colon] == "xsi")
                {
                    writer.WriteAttributeString("xsi", name[(colon + 1)..], "http://www.w3.org/2001/XMLSchema-instance", text);
                }
                else
                {
                    writer.WriteAttributeString(colon < 0 ? name : name[(colon + 1)..], text);
                }
            }
        }

        foreach (var member in shape.Members)
        {
            if (member.XmlAttribute || (bodyMember is not null && !bodyMember(member)) || document[member.Name] is not { } value)
            {
                continue;
            }

            WriteMember(writer, member, value);
        }
    }

    private static void WriteMember(XmlWriter writer, MemberModel member, JsonNode value)
    {
        var shape = member.Shape;
        if (shape.Type == ShapeType.List && member.IsFlattened && value is JsonArray items)
        {
            var name = shape.ListMember!.LocationName ?? member.WireName;
            foreach (var item in items)
            {
                if (item is not null)
                {
                    writer.WriteStartElement(name, member.XmlNamespace);
                    WriteContent(writer, shape.ListMember.Shape, item, shape.ListMember.TimestampFormat);
                    writer.WriteEndElement();
                }
            }

            return;
        }

        if (shape.Type == ShapeType.Map && member.IsFlattened && value is JsonObject entries)
        {
            foreach (var (key, item) in entries)
            {
                writer.WriteStartElement(member.WireName, member.XmlNamespace);
                WriteEntry(writer, shape, key, item);
                writer.WriteEndElement();
            }

            return;
        }

        if (member.XmlNamespacePrefix is { } prefix && member.XmlNamespace is { } ns)
        {
            writer.WriteStartElement(member.WireName);
            writer.WriteAttributeString("xmlns", prefix, null, ns);
        }
        else
        {
            writer.WriteStartElement(member.WireName, member.XmlNamespace);
        }

        WriteContent(writer, shape, value, member.TimestampFormat);
        writer.WriteEndElement();
    }

    private static void WriteEntry(XmlWriter writer, ShapeModel shape, string key, JsonNode? item)
    {
        writer.WriteElementString(shape.MapKey!.LocationName ?? "key", key);
        if (item is not null)
        {
            writer.WriteStartElement(shape.MapValue!.LocationName ?? "value");
            WriteContent(writer, shape.MapValue.Shape, item, shape.MapValue.TimestampFormat);
            writer.WriteEndElement();
        }
    }

    /// <summary>Writes a value as the content of the current element.</summary>
    public static void WriteContent(XmlWriter writer, ShapeModel shape, JsonNode value, string? timestampFormat = null)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure when value is JsonObject obj:
                WriteMembers(writer, shape, obj);
                break;
            case ShapeType.List when value is JsonArray list:
                var itemName = shape.ListMember!.LocationName ?? "member";
                foreach (var item in list)
                {
                    if (item is not null)
                    {
                        writer.WriteStartElement(itemName);
                        WriteContent(writer, shape.ListMember.Shape, item, shape.ListMember.TimestampFormat);
                        writer.WriteEndElement();
                    }
                }

                break;
            case ShapeType.Map when value is JsonObject map:
                foreach (var (key, item) in map)
                {
                    writer.WriteStartElement("entry");
                    WriteEntry(writer, shape, key, item);
                    writer.WriteEndElement();
                }

                break;
            default:
                writer.WriteString(ModelDocument.ScalarToText(shape, value, timestampFormat, Timestamps.Iso8601));
                break;
        }
    }

    /// <summary>An XmlWriter over a buffer with AWS's declaration-less compact output.</summary>
    internal static XmlWriter CreateWriter(Stream stream, bool declaration = true) => XmlWriter.Create(stream, new XmlWriterSettings
    {
        Encoding = new UTF8Encoding(false),
        OmitXmlDeclaration = !declaration,
        Indent = false,
    });
}
