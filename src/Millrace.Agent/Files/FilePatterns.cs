namespace Millrace.Agent.Files;

/// <summary>A file a flow's pattern matches, as seen at one poll.</summary>
internal sealed record FileMatch(string Path, FileIdentity Id, long Size, long ModifiedMs);

/// <summary>
/// The AWS agent's <c>filePattern</c>: a path whose file-name part may hold <c>*</c> and <c>?</c> (the directory is
/// fixed). Matches come newest first (modification time, then name), as the agent orders them.
/// </summary>
internal static class FilePatterns
{
    public static IReadOnlyList<FileMatch> Match(string pattern)
    {
        var directory = Path.GetDirectoryName(pattern);
        var name = Path.GetFileName(pattern);
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            return [];
        }

        var matches = new List<FileMatch>();
        IEnumerable<string> candidates;
        try
        {
            candidates = name.AsSpan().IndexOfAny('*', '?') >= 0
                ? Directory.EnumerateFiles(directory, name, new EnumerationOptions { MatchType = MatchType.Simple, MatchCasing = MatchCasing.CaseSensitive, RecurseSubdirectories = false })
                : [pattern];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        foreach (var path in candidates)
        {
            if (FileIdentity.OfPath(path) is { } stat)
            {
                matches.Add(new FileMatch(path, stat.Id, stat.Size, stat.ModifiedMs));
            }
        }

        matches.Sort((a, b) => b.ModifiedMs != a.ModifiedMs ? b.ModifiedMs.CompareTo(a.ModifiedMs) : string.CompareOrdinal(b.Path, a.Path));
        return matches;
    }
}
