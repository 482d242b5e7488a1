using Millrace.Fuzz;

namespace Millrace.Gateway.Tests;

/// <summary>
/// Every input of the committed fuzzing corpus (bench/Millrace.Fuzz/corpus: seeds, inputs that found new coverage,
/// and every crash found, now fixed) through its parser, outside AFL: each gets only the errors the parser documents.
/// </summary>
public sealed class FuzzCorpusTests
{
    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void The_corpus_of_the_target_passes(string target)
    {
        var directory = Path.Combine(ExternalTool.RepositoryRoot, "bench", "Millrace.Fuzz", "corpus", target);
        var files = Directory.GetFiles(directory);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            try
            {
                FuzzTargets.All[target](File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                Assert.Fail($"{target}: {Path.GetFileName(file)}: {e}");
            }
        }
    }
}
