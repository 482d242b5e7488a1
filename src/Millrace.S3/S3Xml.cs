using System.Globalization;
using System.Text;
using System.Xml;

namespace Millrace.S3;

/// <summary>
/// A small XML writer for S3 responses. Text is escaped the way S3 escapes it: &amp;, &lt;, &gt; and &quot; as entities and
/// control characters (which XML 1.0 cannot carry literally) as numeric references, so every key round-trips
/// byte for byte through an XML 1.1 or lenient parser, and exactly through <c>encoding-type=url</c>.
/// </summary>
internal sealed class S3Xml
{
    public const string Namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

    private readonly StringBuilder _sb = new(256);
    private readonly Stack<string> _open = new();

    public S3Xml()
    {
        _sb.Append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }

    /// <summary>Opens the root element in S3's namespace.</summary>
    public static S3Xml Root(string name, bool withNamespace = true)
    {
        var xml = new S3Xml();
        xml._sb.Append('<').Append(name);
        if (withNamespace)
        {
            xml._sb.Append(" xmlns=\"").Append(Namespace).Append('"');
        }

        xml._sb.Append('>');
        xml._open.Push(name);
        return xml;
    }

    public S3Xml Open(string name)
    {
        _sb.Append('<').Append(name).Append('>');
        _open.Push(name);
        return this;
    }

    public S3Xml Close()
    {
        _sb.Append("</").Append(_open.Pop()).Append('>');
        return this;
    }

    /// <summary>An element with text; nothing when the value is null.</summary>
    public S3Xml Element(string name, string? value)
    {
        if (value is null)
        {
            return this;
        }

        _sb.Append('<').Append(name).Append('>');
        Escape(_sb, value);
        _sb.Append("</").Append(name).Append('>');
        return this;
    }

    public S3Xml Element(string name, long value) => Element(name, value.ToString(CultureInfo.InvariantCulture));

    public S3Xml Element(string name, bool value) => Element(name, value ? "true" : "false");

    public S3Xml Element(string name, DateTimeOffset value) => Element(name, Timestamp(value));

    /// <summary>Markup written as is (for the odd element with attributes).</summary>
    public S3Xml Raw(string markup)
    {
        _sb.Append(markup);
        return this;
    }

    /// <summary>An empty element, <c>&lt;name/&gt;</c>.</summary>
    public S3Xml Empty(string name)
    {
        _sb.Append('<').Append(name).Append("/>");
        return this;
    }

    public byte[] ToBytes()
    {
        while (_open.Count > 0)
        {
            Close();
        }

        return Encoding.UTF8.GetBytes(_sb.ToString());
    }

    public override string ToString() => Encoding.UTF8.GetString(ToBytes());

    /// <summary>S3's XML timestamp: ISO 8601 UTC with milliseconds, <c>2026-01-02T03:04:05.000Z</c>.</summary>
    public static string Timestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static void Escape(StringBuilder sb, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                default:
                    if (c < 0x20 || c is '\uFFFE' or '\uFFFF')
                    {
                        sb.Append("&#x").Append(((int)c).ToString("X", CultureInfo.InvariantCulture)).Append(';');
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }
    }

    public static string Escape(string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        Escape(sb, value);
        return sb.ToString();
    }

    /// <summary>A reader for request bodies: no DTDs, no external entities, a bounded document.</summary>
    public static XmlReader Reader(Stream body) => XmlReader.Create(body, new XmlReaderSettings
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
        IgnoreWhitespace = true,
        IgnoreProcessingInstructions = true,
        CheckCharacters = false,
        MaxCharactersInDocument = 4 * 1024 * 1024,
        Async = false,
    });

    /// <summary>
    /// Parses a small request document into an element tree; MalformedXML on any syntax error.
    /// </summary>
    public static XmlNode Parse(byte[] body)
    {
        try
        {
            using var reader = Reader(new MemoryStream(body));
            XmlNode? root = null;
            var stack = new Stack<XmlNode>();
            while (reader.Read())
            {
                switch (reader.NodeType)
                {
                    case XmlNodeType.Element:
                        var node = new XmlNode(reader.LocalName);
                        if (stack.Count > 0)
                        {
                            stack.Peek().Children.Add(node);
                        }
                        else if (root is null)
                        {
                            root = node;
                        }
                        else
                        {
                            throw S3Errors.MalformedXml();
                        }

                        if (!reader.IsEmptyElement)
                        {
                            stack.Push(node);
                        }

                        break;
                    case XmlNodeType.EndElement:
                        stack.Pop();
                        break;
                    case XmlNodeType.Text:
                    case XmlNodeType.CDATA:
                    case XmlNodeType.SignificantWhitespace:
                        if (stack.Count > 0)
                        {
                            stack.Peek().Text += reader.Value;
                        }

                        break;
                }
            }

            return root ?? throw S3Errors.MalformedXml();
        }
        catch (XmlException)
        {
            throw S3Errors.MalformedXml();
        }
    }
}

/// <summary>A parsed request element: name, text and children.</summary>
internal sealed class XmlNode(string name)
{
    public string Name { get; } = name;

    public string Text { get; set; } = "";

    public List<XmlNode> Children { get; } = [];

    public XmlNode? Child(string name) => Children.FirstOrDefault(c => c.Name == name);

    public IEnumerable<XmlNode> All(string name) => Children.Where(c => c.Name == name);

    public string? ChildText(string name) => Child(name)?.Text;
}
