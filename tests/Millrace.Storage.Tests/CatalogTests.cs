using static Millrace.Storage.Tests.Helpers;

namespace Millrace.Storage.Tests;

public sealed class CatalogTests
{
    [Fact]
    public async Task CreateUpdateDeleteSurviveRestart()
    {
        using var dir = new TempDir();
        long aId, bId;
        await using (var store = await Open(dir))
        {
            var a = await store.Catalog.CreateAsync(NewStream("a", 2));
            var b = await store.Catalog.CreateAsync(NewStream("b", 1));
            (aId, bId) = (a.StreamId, b.StreamId);
            Assert.Equal(1, a.Version);
            Assert.NotEqual(a.StreamId, b.StreamId);
            await Assert.ThrowsAsync<CatalogConflictException>(() => store.Catalog.CreateAsync(NewStream("a", 1)).AsTask());

            var a2 = await store.Catalog.UpdateAsync(a with { Status = "UPDATING", Tags = new Dictionary<string, string> { ["k"] = "v" } });
            Assert.Equal(2, a2.Version);
            // A stale writer loses.
            await Assert.ThrowsAsync<CatalogConflictException>(() => store.Catalog.UpdateAsync(a with { Status = "ACTIVE" }).AsTask());
            await Assert.ThrowsAsync<CatalogConflictException>(() => store.Catalog.UpdateAsync(NewStream("nope", 1) with { StreamId = 999, Version = 1 }).AsTask());

            await store.Catalog.DeleteAsync(b.StreamId);
            await store.Catalog.DeleteAsync(b.StreamId); // no-op
        }
        await using (var store = await Open(dir))
        {
            var list = await store.Catalog.ListAsync();
            var a = Assert.Single(list);
            Assert.Equal("a", a.StreamName);
            Assert.Equal(aId, a.StreamId);
            Assert.Equal(2, a.Version);
            Assert.Equal("UPDATING", a.Status);
            Assert.Equal("v", a.Tags["k"]);
            Assert.Equal(2, a.Shards.Count);
            Assert.Null(await store.Catalog.FindAsync("b"));

            var b = await store.Catalog.CreateAsync(NewStream("b", 1));
            Assert.True(b.StreamId > Math.Max(aId, bId)); // ids are never reused
        }
    }

    [Fact]
    public async Task AccountSettingsSurviveRestartAndCanBeRemoved()
    {
        using var dir = new TempDir();
        await using (var store = await Open(dir))
        {
            Assert.Null(await store.Catalog.GetAccountSettingAsync("x"));
            await store.Catalog.SetAccountSettingAsync("x", "{\"a\":1}");
            await store.Catalog.SetAccountSettingAsync("y", "{}");
            await store.Catalog.CreateAsync(NewStream("s", 1)); // other catalog writes keep the settings
            await store.Catalog.SetAccountSettingAsync("y", null);
        }

        await using (var store = await Open(dir))
        {
            Assert.Equal("{\"a\":1}", await store.Catalog.GetAccountSettingAsync("x"));
            Assert.Null(await store.Catalog.GetAccountSettingAsync("y"));
            Assert.NotNull(await store.Catalog.FindAsync("s"));
        }
    }

    [Fact]
    public async Task InterruptedCatalogWriteLeavesOldCatalog()
    {
        using var dir = new TempDir();
        await using (var store = await Open(dir))
        {
            await store.Catalog.CreateAsync(NewStream("a", 1));
        }
        // A crash between writing the temp file and the rename leaves a partial temp file behind.
        await File.WriteAllTextAsync(Path.Combine(dir.Path, "catalog.json.tmp"), "{\"formatVersion\":1,\"streams\":[{\"stre");
        await using (var store = await Open(dir))
        {
            Assert.Equal("a", Assert.Single(await store.Catalog.ListAsync()).StreamName);
            Assert.False(File.Exists(Path.Combine(dir.Path, "catalog.json.tmp")));
        }
    }
}
