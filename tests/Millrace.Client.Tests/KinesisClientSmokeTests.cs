using System.Text;

namespace Millrace.Client.Tests;

public sealed class KinesisClientSmokeTests(ClientServerFixture fixture) : IClassFixture<ClientServerFixture>
{
    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Create_put_and_read_back_over_http_version(string httpVersion)
    {
        using var client = fixture.NewClient(Version.Parse(httpVersion));
        var stream = ClientServerFixture.UniqueName("smoke");
        await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = 2 });
        var summary = await client.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = stream });
        Assert.Equal(StreamStatus.ACTIVE, summary.StreamDescriptionSummary!.StreamStatus);
        Assert.Equal(2, summary.StreamDescriptionSummary.OpenShardCount);

        var put = await client.PutRecordsAsync(new PutRecordsRequest
        {
            StreamName = stream,
            Records = [.. Enumerable.Range(0, 10).Select(i => new PutRecordsRequestEntry { PartitionKey = "k" + i, Data = Encoding.UTF8.GetBytes("v" + i) })],
        });
        Assert.Equal(0, put.FailedRecordCount);
        Assert.NotNull(put.RequestId);

        var shards = await client.ListShardsAsync(new ListShardsRequest { StreamName = stream });
        var read = new List<string>();
        foreach (var shard in shards.Shards!)
        {
            var iterator = await client.GetShardIteratorAsync(new GetShardIteratorRequest
            {
                StreamName = stream, ShardId = shard.ShardId, ShardIteratorType = ShardIteratorType.TRIM_HORIZON,
            });
            var records = await client.GetRecordsAsync(new GetRecordsRequest { ShardIterator = iterator.ShardIterator });
            read.AddRange(records.Records!.Select(r => Encoding.UTF8.GetString(r.Data!)));
            Assert.All(records.Records!, r => Assert.True(r.ApproximateArrivalTimestamp > DateTime.UtcNow.AddMinutes(-5)));
        }
        Assert.Equal(Enumerable.Range(0, 10).Select(i => "v" + i).Order(), read.Order());
    }

    [Fact]
    public async Task Errors_arrive_as_the_typed_aws_exception()
    {
        using var client = fixture.NewClient();
        var e = await Assert.ThrowsAsync<ResourceNotFoundException>(() =>
            client.DescribeStreamAsync(new DescribeStreamRequest { StreamName = ClientServerFixture.UniqueName("missing") }));
        Assert.Equal(400, e.StatusCode);
        Assert.Equal("ResourceNotFoundException", e.ErrorCode);
        Assert.Contains("not found", e.Message, StringComparison.OrdinalIgnoreCase);
    }
}
