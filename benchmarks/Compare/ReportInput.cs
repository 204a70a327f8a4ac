using System.Text.Json.Nodes;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// What every report mode (<c>report</c>, <c>attention-report</c>, <c>longvq-report</c>, <c>titans-report</c>) reads:
/// the arguments <c>RESULTS.jsonl.. [--out DIR]</c> and the JSON result lines of those files.
/// </summary>
internal static class ReportInput
{
    /// <summary>
    /// Parses <c>RESULTS.jsonl.. [--out DIR]</c> (DIR defaults to the current folder); without a results file prints the
    /// usage of <paramref name="mode"/> and returns false.
    /// </summary>
    public static bool TryParse(string mode, string[] args, out List<string> inputs, out string outDir)
    {
        inputs = new List<string>();
        outDir = ".";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
            else inputs.Add(args[i]);
        }
        if (inputs.Count > 0) return true;
        Console.Error.WriteLine($"usage: {mode} RESULTS.jsonl.. [--out DIR]");
        return false;
    }

    /// <summary>The JSON result lines of <paramref name="paths"/> (other lines skipped), optionally only those of <paramref name="cases"/>.</summary>
    public static IEnumerable<JsonNode> Rows(IEnumerable<string> paths, params string[] cases)
    {
        foreach (var path in paths)
            foreach (var line in File.ReadLines(path))
            {
                if (!line.TrimStart().StartsWith('{')) continue;
                var r = JsonNode.Parse(line)!;
                if (cases.Length == 0 || cases.Contains((string?)r["case"] ?? "")) yield return r;
            }
    }
}
