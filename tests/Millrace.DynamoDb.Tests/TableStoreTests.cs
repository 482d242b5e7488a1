using System.Text;
using Millrace.Storage.Tables;

namespace Millrace.DynamoDb.Tests;

/// <summary>The embedded table store: atomic read-modify-write, ordering, table lifecycle, reopening.</summary>
public sealed class TableStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "millrace-tables-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static ItemKey Key(string hash, string range = "") => new(Encoding.UTF8.GetBytes(hash), Encoding.UTF8.GetBytes(range));

    [Fact]
    public async Task MutateSeesNothingForANewItemThenTheStoredBody()
    {
        await using var store = SqliteTableStore.Open(_dir);
        Assert.True(await store.CreateTableAsync("t1", "{}"u8.ToArray(), 1));
        Assert.False(await store.CreateTableAsync("t1", "{}"u8.ToArray(), 1));

        ReadOnlyMemory<byte>? seen = new byte[1];
        var before = await store.MutateItemAsync("t1", Key("a"), existing =>
        {
            seen = existing;
            return ItemMutation.Put("v1"u8.ToArray());
        });
        Assert.Null(seen);
        Assert.Null(before);

        before = await store.MutateItemAsync("t1", Key("a"), existing =>
        {
            seen = existing;
            return ItemMutation.Put("v2"u8.ToArray());
        });
        Assert.Equal("v1", Encoding.UTF8.GetString(seen!.Value.Span));
        Assert.Equal("v1", Encoding.UTF8.GetString(before!.Value.Span));

        // A throwing decision leaves the item as it was.
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await store.MutateItemAsync("t1", Key("a"), _ => throw new InvalidOperationException("no")));
        var item = await store.GetItemAsync("t1", Key("a"));
        Assert.Equal("v2", Encoding.UTF8.GetString(item!.Body.Span));

        await store.MutateItemAsync("t1", Key("a"), _ => ItemMutation.Delete);
        Assert.Null(await store.GetItemAsync("t1", Key("a")));
        await Assert.ThrowsAsync<TableNotFoundException>(async () => await store.GetItemAsync("nope", Key("a")));
    }
}
