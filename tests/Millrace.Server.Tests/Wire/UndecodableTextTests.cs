using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Wire;

/// <summary>
/// JSON that parses but whose strings do not decode (an unpaired surrogate escape, invalid UTF-8 bytes), put in every
/// string of every operation's input of every JSON service: the answer is AWS's 400 (SerializationException or a
/// validation error), never a 500 InternalFailure. A mutation fuzzer found 3,275 such 500s in Kinesis alone.
/// </summary>
public sealed class UndecodableTextTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly (string Name, byte[] Text)[] BadStrings =
    [
        ("a lone high surrogate escape", Encoding.ASCII.GetBytes("\"f\\ud800\"")),
        ("a lone low surrogate escape", Encoding.ASCII.GetBytes("\"\\udc00x\"")),
        ("a high surrogate escape before a letter", Encoding.ASCII.GetBytes("\"\\ud83dA\"")),
        ("invalid UTF-8 bytes", [(byte)'"', (byte)'k', 0xff, 0xfe, (byte)'"']),
        ("a truncated UTF-8 sequence", [(byte)'"', 0xe2, 0x82, (byte)'"']),
    ];

    public static TheoryData<string> Services => ["kinesis", "firehose", "logs", "dynamodb", "glue"];

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Every_operation_answers_400_to_strings_that_do_not_decode(string service)
    {
        var model = ServiceModel.Get(service);
        var contentType = "application/x-amz-json-" + model.JsonVersion;
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Endpoint) };
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var operation in model.Operations.Values.Where(o => o.Input is not null).OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            foreach (var (name, text) in BadStrings)
            {
                var body = new List<byte>();
                Write(operation.Input!, text, body, depth: 0);
                using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent([.. body]) };
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
                request.Headers.TryAddWithoutValidation("X-Amz-Target", $"{model.TargetPrefix}.{operation.Name}");
                request.Headers.TryAddWithoutValidation("X-Amz-Date", DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
                request.Headers.TryAddWithoutValidation("Authorization",
                    $"AWS4-HMAC-SHA256 Credential=AKIDMILLRACETEST/{DateTime.UtcNow:yyyyMMdd}/us-east-1/{model.SigningName}/aws4_request, SignedHeaders=host;x-amz-date, Signature={new string('0', 64)}");
                using var response = await http.SendAsync(request);
                var answer = await response.Content.ReadAsStringAsync();
                checkedCount++;
                if ((int)response.StatusCode >= 500)
                {
                    failures.Add($"{operation.Name} with {name}: {(int)response.StatusCode} {answer}");
                }
                else if ((int)response.StatusCode == 400 && JsonNode.Parse(answer)?["__type"]?.GetValue<string>() is null)
                {
                    failures.Add($"{operation.Name} with {name}: 400 without an error type: {answer}");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {checkedCount} requests:\n{string.Join("\n", failures.Take(20))}");
    }

    [Fact]
    public async Task Integers_beyond_int_or_with_a_fraction_are_read_as_AWS_reads_them()
    {
        using var client = fixture.NewClient();
        var stream = ServerFixture.UniqueName("ints");
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.SendRawAsync("CreateStream", $$"""{"StreamName":"{{stream}}","ShardCount":1}""")).Status);

        // A fraction is truncated, as Jackson coerces a float into an int field.
        var described = await client.SendRawAsync("DescribeStream", $$"""{"StreamName":"{{stream}}","Limit":100.5}""");
        Assert.Equal(System.Net.HttpStatusCode.OK, described.Status);

        // Beyond Int32: the client's SerializationException, not an InternalFailure.
        foreach (var value in new[] { "999999999999999999998", "1e30", "-3000000000" })
        {
            var answer = await client.SendRawAsync("IncreaseStreamRetentionPeriod", $$"""{"StreamName":"{{stream}}","RetentionPeriodHours":{{value}}}""");
            Assert.True(answer.Status == System.Net.HttpStatusCode.BadRequest, answer.ToString());
            Assert.Contains(answer.ErrorType, new[] { "SerializationException", "ValidationException", "InvalidArgumentException" });
        }
    }

    [Theory]
    [InlineData("""{"DeliveryStreamName": "x" "Records": [{"Data": "AA=="}]}""")]
    [InlineData("""{"DeliveryStreamName": "x", "Records": [{"Data": "AA=="},]}""")]
    [InlineData("""{"Records": [{"Data": "AA==" """)]
    public async Task Malformed_JSON_on_the_PutRecordBatch_fast_path_is_a_SerializationException(string body)
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.Endpoint) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Firehose_20150804.PutRecordBatch");
        request.Headers.TryAddWithoutValidation("X-Amz-Date", DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDMILLRACETEST/{DateTime.UtcNow:yyyyMMdd}/us-east-1/firehose/aws4_request, SignedHeaders=host;x-amz-date, Signature={new string('0', 64)}");
        using var response = await http.SendAsync(request);
        var answer = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == 400, answer);
        Assert.Equal("SerializationException", JsonNode.Parse(answer)!["__type"]!.GetValue<string>());
    }

    /// <summary>A value of the shape with <paramref name="bad"/> in every string (and map key); other scalars valid.</summary>
    private static void Write(ShapeModel shape, byte[] bad, List<byte> body, int depth)
    {
        void Ascii(string s) => body.AddRange(Encoding.ASCII.GetBytes(s));
        switch (shape.Type)
        {
            case ShapeType.Structure when depth < 4:
                Ascii("{");
                var first = true;
                foreach (var member in shape.Members.Where(m => m.Location is null or "body"))
                {
                    Ascii(first ? "" : ",");
                    first = false;
                    Ascii($"\"{member.LocationName ?? member.Name}\":");
                    Write(member.Shape, bad, body, depth + 1);
                }

                Ascii("}");
                break;
            case ShapeType.List when depth < 4:
                Ascii("[");
                Write(shape.ListMember!.Shape, bad, body, depth + 1);
                Ascii("]");
                break;
            case ShapeType.Map when depth < 4:
                Ascii("{");
                body.AddRange(bad);
                Ascii(":");
                Write(shape.MapValue!.Shape, bad, body, depth + 1);
                Ascii("}");
                break;
            case ShapeType.String:
                body.AddRange(bad);
                break;
            case ShapeType.Blob:
                Ascii("\"AA==\"");
                break;
            case ShapeType.Boolean:
                Ascii("true");
                break;
            case ShapeType.Structure or ShapeType.List or ShapeType.Map or ShapeType.Document:
                Ascii("null");
                break;
            default:
                Ascii("1");
                break;
        }
    }
}
