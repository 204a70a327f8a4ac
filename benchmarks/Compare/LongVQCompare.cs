using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Ssm.Hybrid;
using Ssm.Hybrid.LongVQ;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// LongVQ's codebook attention against full causal attention as the sequence grows (Ssm only, no PyTorch peer; the
/// report is <see cref="LongVQReport"/>). Case "longvq" (the ops, q, k, v [B, H, L, D], random inputs, a random per-head
/// codebook [H, S, D]): "codebook_fwd" / "codebook_fwd_bwd" = <see cref="CodebookAttention.Forward"/> (+ Backward, all
/// three input gradients) over keys quantized once outside the timed call, "vq_fwd" = <see cref="VectorQuantize.Nearest"/>
/// of the keys (the quantizer's cost, reported apart), "full_fwd" / "full_fwd_bwd" = causal <see cref="Attention.Forward"/>
/// (+ Backward) over the unquantized keys (shapes with attention "codebook" or "full" in cases.json). Case "longvq_layer": a causal <see cref="LongVQLayer"/> (block + feed-forward,
/// training mode, so the EMA codebook update runs; dead-code re-seeding off) against a pre-norm
/// <see cref="TransformerBlock"/> of the same width, heads and head dim (causal multi-head attention + GELU MLP of the
/// same hidden width), forward (no grad) and forward+backward. Full attention costs O(L²): a full-attention case whose
/// time per call, predicted from the same case at the previous length as ∝ L², exceeds
/// <c>$SSM_LONGVQ_FULL_MAX_CALL_S</c> seconds (default 20) is skipped with a note on stderr; the report extrapolates it
/// and marks it so.
/// </summary>
internal static class LongVQCompare
{
    private static readonly double MaxFullCallSeconds =
        double.TryParse(Environment.GetEnvironmentVariable("SSM_LONGVQ_FULL_MAX_CALL_S"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) ? s : 20;

    /// <summary>The last measured call of each full-attention case: (case/name, shape without L) → (L, seconds).</summary>
    private static readonly Dictionary<string, (int L, double Seconds)> LastFull = new();

    public static IEnumerable<CompareCase> Ops(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            int b = (int)s["b"]!, h = (int)s["h"]!, l = (int)s["l"]!, d = (int)s["d"]!;
            string attention = (string)s["attention"]!;
            var rng = new Rng(1);
            var q = rng.Normal(new[] { b, h, l, d });
            var k = rng.Normal(new[] { b, h, l, d });
            var v = rng.Normal(new[] { b, h, l, d });
            var dO = rng.Normal(new[] { b, h, l, d });
            string rest = $"B={b} H={h} D={d}";
            double tokens = (double)b * l * 1e6;
            if (attention == "full")
            {
                float scale = Attention.DefaultScale(d);
                if (FullWithinBudget("full_fwd", rest, l))
                    yield return new CompareCase("longvq", "full_fwd", $"L={l} {rest}", tokens, "Ktok/s", Timed("full_fwd", rest, l, () =>
                    {
                        using var r = Attention.Forward(q, k, v, AttentionMask.Causal, scale);
                    }));
                if (FullWithinBudget("full_fwd_bwd", rest, l))
                    yield return new CompareCase("longvq", "full_fwd_bwd", $"L={l} {rest}", tokens, "Ktok/s", Timed("full_fwd_bwd", rest, l, () =>
                    {
                        using var r = Attention.Forward(q, k, v, AttentionMask.Causal, scale);
                        var g = Attention.Backward(q, k, v, r.Output, r.Lse, dO, AttentionMask.Causal, scale);
                        g.Dq!.Dispose();
                        g.Dk!.Dispose();
                        g.Dv!.Dispose();
                    }));
            }
            else if (attention == "codebook")
            {
                int block = (int)s["block"]!, codes = (int)s["codes"]!;
                string shape = $"L={l} {rest} block={block} S={codes}";
                var codebook = rng.Normal(new[] { h, codes, d });
                var (z, kHat) = VectorQuantize.Nearest(k, codebook);
                yield return new CompareCase("longvq", "vq_fwd", shape, tokens, "Ktok/s", () =>
                {
                    var (zz, kk) = VectorQuantize.Nearest(k, codebook);
                    zz.Dispose();
                    kk.Dispose();
                });
                yield return new CompareCase("longvq", "codebook_fwd", shape, tokens, "Ktok/s", () =>
                {
                    var r = CodebookAttention.Forward(q, kHat, v, z, codebook, block);
                    r.Output.Dispose();
                    r.LogSumExp.Dispose();
                });
                yield return new CompareCase("longvq", "codebook_fwd_bwd", shape, tokens, "Ktok/s", () =>
                {
                    var r = CodebookAttention.Forward(q, kHat, v, z, codebook, block);
                    var g = CodebookAttention.Backward(dO, q, kHat, v, z, codebook, r, block);
                    foreach (var t in new[] { r.Output, r.LogSumExp, g.DQ!, g.DK!, g.DV! }) t.Dispose();
                });
                foreach (var t in new[] { codebook, z, kHat }) t.Dispose();
            }
            else throw new ArgumentException($"cases.json longvq: unknown attention '{attention}' (codebook or full).");
            foreach (var t in new[] { q, k, v, dO }) t.Dispose();
        }
    }

    public static IEnumerable<CompareCase> Layer(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            int b = (int)s["batch"]!, l = (int)s["length"]!, dm = (int)s["d_model"]!, h = (int)s["heads"]!, block = (int)s["block"]!,
                codes = (int)s["codes"]!, ffn = (int)s["ffn_expand"]!;
            var config = new LongVQConfig
            {
                DModel = dm, VocabSize = 1, FfnExpand = ffn,
                Block = new LongVQBlockConfig { ZDim = dm, HDim = dm, NHeads = h, CodebookSize = codes, BlockLength = block, DeadCodeInterval = 0 },
            };
            var longVq = new LongVQLayer(config, causal: true, new Rng(1), Device.Cpu);
            var full = new TransformerBlock(new AttentionConfig { DModel = dm, NumHeads = h, HeadDim = dm / h, Mask = AttentionMask.Causal },
                new BlockConfig { Norm = NormKind.LayerNorm, DIntermediate = ffn * dm, Mlp = MlpKind.Gelu, MlpBias = true }, new Rng(1));
            var rng = new Rng(2);
            var x = new Variable(rng.Normal(new[] { b, l, dm }).DetachFromScope(), requiresGrad: true);
            var dy = rng.Normal(new[] { b, l, dm }).DetachFromScope();
            string rest = $"B={b} d_model={dm} H={h} block={block} S={codes} ffn={ffn}x";
            string shape = $"L={l} {rest}";
            double tokens = (double)b * l * 1e6;
            var layers = new (string Name, Module Module, Func<Variable, Variable> Forward)[]
            {
                ("longvq", longVq, longVq.Forward),
                ("full", full, v => full.Forward(v)),
            };
            foreach (var (name, module, forward) in layers)
            {
                if (name == "longvq" || FullWithinBudget("layer_full_fwd", rest, l))
                    yield return new CompareCase("longvq_layer", $"{name}_fwd", shape, tokens, "Ktok/s", Timed($"layer_{name}_fwd", rest, l, () =>
                    {
                        using var noGrad = Autograd.NoGrad();
                        using var scope = TensorScope.Begin();
                        forward(x);
                    }));
                if (name == "longvq" || FullWithinBudget("layer_full_fwd_bwd", rest, l))
                    yield return new CompareCase("longvq_layer", $"{name}_fwd_bwd", shape, tokens, "Ktok/s", Timed($"layer_{name}_fwd_bwd", rest, l, () =>
                    {
                        using var scope = TensorScope.Begin();
                        module.ZeroGrad();
                        x.ZeroGrad();
                        forward(x).Backward(dy);
                    }));
            }
            longVq.Dispose();
            full.Dispose();
            x.Data.Dispose();
            dy.Dispose();
        }
    }

    /// <summary>Wraps <paramref name="run"/> to remember its last call's time for <see cref="FullWithinBudget"/>.</summary>
    private static Action Timed(string name, string rest, int l, Action run) => () =>
    {
        long t0 = Stopwatch.GetTimestamp();
        run();
        LastFull[$"{name} {rest}"] = (l, Stopwatch.GetElapsedTime(t0).TotalSeconds);
    };

    /// <summary>False (with a note on stderr) when the case's predicted time per call at L = <paramref name="l"/> exceeds the budget.</summary>
    private static bool FullWithinBudget(string name, string rest, int l)
    {
        if (!LastFull.TryGetValue($"{name} {rest}", out var last) || last.L >= l) return true;
        double predicted = last.Seconds * Math.Pow((double)l / last.L, 2);
        if (predicted <= MaxFullCallSeconds) return true;
        Console.Error.WriteLine($"longvq: {name} at L={l} ({rest}) skipped: predicted {predicted:F1} s per call (∝ L² from {last.Seconds:F2} s at L={last.L}) " +
            $"exceeds SSM_LONGVQ_FULL_MAX_CALL_S={MaxFullCallSeconds}.");
        return false;
    }
}
