using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Consumers;

/// <summary>Enhanced fan-out consumer registry over raw JSON against one shared server (each test its own stream).</summary>
public sealed class ConsumerTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly KinesisJsonClient _client = fixture.NewClient();

    public void Dispose() => _client.Dispose();

    private static string Arn(string stream) => $"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}";

    private async Task<string> NewStreamAsync(string prefix)
    {
        var name = ServerFixture.UniqueName(prefix);
        await _client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        return name;
    }

    private async Task<JsonNode> RegisterAsync(string stream, string consumer) =>
        (await _client.OkAsync("RegisterStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = consumer }))["Consumer"]!;

    private async Task<List<string>> ListNamesAsync(string stream) =>
        [.. (await _client.OkAsync("ListStreamConsumers", new { StreamARN = Arn(stream) }))["Consumers"]!.AsArray().Select(c => c!["ConsumerName"]!.GetValue<string>())];

    private async Task<int> ConsumerCountAsync(string stream) =>
        (await _client.OkAsync("DescribeStreamSummary", new { StreamName = stream }))["StreamDescriptionSummary"]!["ConsumerCount"]!.GetValue<int>();

    [Fact]
    public async Task RegisterDescribeListDeregister()
    {
        var stream = await NewStreamAsync("efo");
        var consumer = await RegisterAsync(stream, "app");
        var arn = consumer["ConsumerARN"]!.GetValue<string>();
        var created = consumer["ConsumerCreationTimestamp"]!.GetValue<double>();
        Assert.Equal($"{Arn(stream)}/consumer/app:{(long)created}", arn);
        Assert.Equal("ACTIVE", consumer["ConsumerStatus"]!.GetValue<string>());
        Assert.Equal(1, await ConsumerCountAsync(stream));

        var byArn = (await _client.OkAsync("DescribeStreamConsumer", new { ConsumerARN = arn }))["ConsumerDescription"]!;
        var byName = (await _client.OkAsync("DescribeStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = "app" }))["ConsumerDescription"]!;
        Assert.Equal(byArn.ToJsonString(), byName.ToJsonString());
        Assert.Equal(Arn(stream), byArn["StreamARN"]!.GetValue<string>());
        Assert.Equal(arn, byArn["ConsumerARN"]!.GetValue<string>());
        Assert.Equal(["app"], await ListNamesAsync(stream));

        await _client.OkAsync("DeregisterStreamConsumer", new { ConsumerARN = arn });
        Assert.Empty(await ListNamesAsync(stream));
        Assert.Equal(0, await ConsumerCountAsync(stream));
        Assert.Equal("ResourceNotFoundException", (await _client.CallAsync("DescribeStreamConsumer", new { ConsumerARN = arn })).ErrorType);
        Assert.Equal("ResourceNotFoundException", (await _client.CallAsync("DeregisterStreamConsumer", new { ConsumerARN = arn })).ErrorType);

        // The name is free again, and without consumers the stream deletes as usual.
        await RegisterAsync(stream, "app");
        await _client.OkAsync("DeregisterStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = "app" });
        await _client.OkAsync("DeleteStream", new { StreamName = stream });
    }

    [Fact]
    public async Task TwentyConsumersPerStreamAndNamesArePerStream()
    {
        var stream = await NewStreamAsync("twenty");
        for (int i = 0; i < 20; i++)
        {
            await RegisterAsync(stream, $"c{i:00}");
        }

        var over = await _client.CallAsync("RegisterStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = "c20" });
        Assert.Equal("LimitExceededException", over.ErrorType);
        Assert.Equal(20, await ConsumerCountAsync(stream));

        // The same name on another stream is another consumer.
        var other = await NewStreamAsync("other");
        var again = await RegisterAsync(other, "c00");
        Assert.StartsWith(Arn(other) + "/consumer/c00:", again["ConsumerARN"]!.GetValue<string>(), StringComparison.Ordinal);

        // Freeing a slot lets one more in.
        await _client.OkAsync("DeregisterStreamConsumer", new { StreamARN = Arn(stream), ConsumerName = "c07" });
        await RegisterAsync(stream, "c20");
        Assert.Equal(20, await ConsumerCountAsync(stream));
    }

    [Fact]
    public async Task ListStreamConsumersPagesWithNextToken()
    {
        var stream = await NewStreamAsync("page");
        string[] names = ["e", "a", "d", "b", "c"];
        foreach (var n in names)
        {
            await RegisterAsync(stream, n);
        }

        var seen = new List<string>();
        string? token = null;
        for (int page = 0; page < 10; page++)
        {
            var response = token is null
                ? await _client.OkAsync("ListStreamConsumers", new { StreamARN = Arn(stream), MaxResults = 2 })
                : await _client.OkAsync("ListStreamConsumers", new { StreamARN = Arn(stream), NextToken = token, MaxResults = 2 });
            var consumers = response["Consumers"]!.AsArray();
            Assert.True(consumers.Count <= 2);
            seen.AddRange(consumers.Select(c => c!["ConsumerName"]!.GetValue<string>()));
            token = response["NextToken"]?.GetValue<string>();
            if (token is null)
            {
                break;
            }
        }

        Assert.Equal(["a", "b", "c", "d", "e"], seen);

        // A token belongs to its stream.
        var other = await NewStreamAsync("page2");
        var first = await _client.OkAsync("ListStreamConsumers", new { StreamARN = Arn(stream), MaxResults = 1 });
        var foreign = await _client.CallAsync("ListStreamConsumers", new { StreamARN = Arn(other), NextToken = first["NextToken"]!.GetValue<string>() });
        Assert.Equal("InvalidArgumentException", foreign.ErrorType);

        // The right creation timestamp is accepted.
        var created = (await _client.OkAsync("DescribeStreamSummary", new { StreamName = stream }))["StreamDescriptionSummary"]!["StreamCreationTimestamp"]!.GetValue<double>();
        var listed = await _client.OkAsync("ListStreamConsumers", new { StreamARN = Arn(stream), StreamCreationTimestamp = created });
        Assert.Equal(5, listed["Consumers"]!.AsArray().Count);
    }

    [Fact]
    public async Task DeleteStreamNeedsEnforceConsumerDeletionAndTakesTheConsumersAlong()
    {
        var stream = await NewStreamAsync("del");
        var arn = (await RegisterAsync(stream, "app"))["ConsumerARN"]!.GetValue<string>();

        var refused = await _client.CallAsync("DeleteStream", new { StreamName = stream });
        Assert.Equal("ResourceInUseException", refused.ErrorType);
        Assert.Equal("ACTIVE", (await _client.OkAsync("DescribeStreamConsumer", new { ConsumerARN = arn }))["ConsumerDescription"]!["ConsumerStatus"]!.GetValue<string>());

        await _client.OkAsync("DeleteStream", new { StreamARN = Arn(stream), EnforceConsumerDeletion = true });
        Assert.Equal("ResourceNotFoundException", (await _client.CallAsync("DescribeStreamConsumer", new { ConsumerARN = arn })).ErrorType);

        // A new stream of the same name starts without consumers.
        await _client.OkAsync("CreateStream", new { StreamName = stream, ShardCount = 1 });
        Assert.Empty(await ListNamesAsync(stream));
        Assert.Equal(0, await ConsumerCountAsync(stream));
        await _client.OkAsync("DeleteStream", new { StreamName = stream });
    }

    [Fact]
    public async Task TagsAndPoliciesByConsumerArnAreTheConsumers()
    {
        var stream = await NewStreamAsync("tags");
        await _client.OkAsync("AddTagsToStream", new { StreamName = stream, Tags = new Dictionary<string, string> { ["owner"] = "stream" } });
        var registered = await _client.OkAsync("RegisterStreamConsumer",
            new { StreamARN = Arn(stream), ConsumerName = "app", Tags = new Dictionary<string, string> { ["team"] = "blue" } });
        var arn = registered["Consumer"]!["ConsumerARN"]!.GetValue<string>();

        await _client.OkAsync("TagResource", new { ResourceARN = arn, Tags = new Dictionary<string, string> { ["env"] = "test", ["team"] = "red" } });
        await _client.OkAsync("UntagResource", new { ResourceARN = arn, TagKeys = new[] { "env", "absent" } });
        Assert.Equal("""[{"Key":"team","Value":"red"}]""", (await _client.OkAsync("ListTagsForResource", new { ResourceARN = arn }))["Tags"]!.ToJsonString());
        Assert.Equal("""[{"Key":"owner","Value":"stream"}]""", (await _client.OkAsync("ListTagsForResource", new { ResourceARN = Arn(stream) }))["Tags"]!.ToJsonString());

        var tooMany = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => "v");
        Assert.Equal("InvalidArgumentException", (await _client.CallAsync("TagResource", new { ResourceARN = arn, Tags = tooMany })).ErrorType);

        const string policy = """{"Version":"2012-10-17","Statement":[]}""";
        await _client.OkAsync("PutResourcePolicy", new { ResourceARN = arn, Policy = policy });
        Assert.Equal(policy, (await _client.OkAsync("GetResourcePolicy", new { ResourceARN = arn }))["Policy"]!.GetValue<string>());
        Assert.Equal("{}", (await _client.OkAsync("GetResourcePolicy", new { ResourceARN = Arn(stream) }))["Policy"]!.GetValue<string>());
        Assert.Equal("InvalidArgumentException", (await _client.CallAsync("PutResourcePolicy", new { ResourceARN = arn, Policy = "[1]" })).ErrorType);
        await _client.OkAsync("DeleteResourcePolicy", new { ResourceARN = arn });
        Assert.Equal("{}", (await _client.OkAsync("GetResourcePolicy", new { ResourceARN = arn }))["Policy"]!.GetValue<string>());
    }
}
