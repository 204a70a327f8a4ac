using System.Text.Json.Nodes;
using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Titans cases (no PyTorch peer; tokens/s; <c>titans-report</c> turns them into tables and a plot):
/// "titans_memory" — the neural memory layer and its memory scan alone (<see cref="NeuralMemoryWorkload"/>): names
/// <c>layer_fwd</c>, <c>layer_fwd_bwd</c>, <c>scan_fwd</c>, <c>scan_fwd_bwd</c> against chunk size and memory depth;
/// "titans_models" — MAC, MAG and MAL language models (<see cref="LanguageModelWorkload"/>): names <c>VARIANT_fwd</c>
/// (forward + loss) and <c>VARIANT_fwd_bwd</c> (one training step without the optimizer) against the sequence length,
/// with <c>finite</c> (the last call's loss and gradients), <c>loss</c> and, when not finite, <c>nonfinite</c> (the loss
/// and/or the parameters with a NaN or ∞ gradient) in each line. A shape's <c>"forward": false</c>
/// or <c>"backward": false</c> drops that pass; a titans_memory shape's <c>names</c> lists the names to run (default all).
/// </summary>
internal static class TitansCompare
{
    private const double TokensUnit = 1e9; // CompareCase.Work is per 1e9: tokens·1e9 gives tokens/s

    public static IEnumerable<CompareCase> Memory(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var shape = new NeuralMemoryShape((int)s["batch"]!, (int)s["length"]!, (int)s["d_model"]!, (int)s["heads"]!,
                (int)s["depth"]!, (int)s["chunk"]!, (int?)s["expansion"] ?? 4);
            var names = (s["names"] as JsonArray)?.Select(n => (string)n!).ToHashSet();
            bool Wanted(string name) => names is null || names.Contains(name);
            Fresh();
            var w = new NeuralMemoryWorkload(shape);
            double work = shape.Tokens * TokensUnit;
            var cases = new (string Name, Action Run)[]
            {
                ("layer_fwd", w.LayerForward), ("layer_fwd_bwd", w.LayerForwardBackward),
                ("scan_fwd", w.ScanForward), ("scan_fwd_bwd", w.ScanForwardBackward),
            }.Where(c => Wanted(c.Name)).ToList();
            for (int i = 0; i < cases.Count; i++)
                // The last case of the shape releases the workload.
                yield return new CompareCase("titans_memory", cases[i].Name, shape.ToString(), work, "tok/s", cases[i].Run)
                    { Resources = i == cases.Count - 1 ? new IDisposable[] { w } : Array.Empty<IDisposable>() };
            if (cases.Count == 0) w.Dispose();
        }
    }

    public static IEnumerable<CompareCase> Models(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var variant = TitansConfig.ParseVariant((string)s["variant"]!);
            var shape = new TitansModelShape(variant, (int)s["batch"]!, (int)s["length"]!, (int)s["d_model"]!, (int)s["layers"]!,
                (int)s["heads"]!, (int)s["window"]!, (int)s["segment"]!, (int)s["chunk"]!, (int)s["vocab"]!);
            string prefix = variant.ToString().ToLowerInvariant();
            double work = shape.Tokens * TokensUnit;
            var passes = new[] { false, true }.Where(backward => (bool?)s[backward ? "backward" : "forward"] ?? true);
            foreach (bool backward in passes)
            {
                Fresh();
                var w = shape.Workload();
                yield return new CompareCase("titans_models", backward ? $"{prefix}_fwd_bwd" : $"{prefix}_fwd", shape.ToString(), work, "tok/s",
                    backward ? w.ForwardBackward : w.Forward)
                {
                    Resources = new IDisposable[] { w },
                    Extra = () =>
                    {
                        var bad = w.NonFinite();
                        var extra = new Dictionary<string, object> { ["finite"] = bad.Count == 0, ["loss"] = Math.Round(w.Loss, 4) };
                        if (bad.Count > 0) extra["nonfinite"] = string.Join(",", bad);
                        return extra;
                    },
                };
            }
        }
    }

    /// <summary>Starts a shape from an empty pool so its resident memory reflects this shape.</summary>
    private static void Fresh()
    {
        Device.Cpu.EmptyCache();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
