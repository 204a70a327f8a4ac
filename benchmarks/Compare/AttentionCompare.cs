using System.Text.Json.Nodes;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Attention cases: <see cref="Attention.Forward"/> ("MASK_fwd") and forward + <see cref="Attention.Backward"/>
/// ("MASK_fwd_bwd") of q, k, v [B, H, L, D] under the causal or sliding-window mask (the peer, peer/attention.py:
/// softmax(QKᵀ)V with explicit matmuls for causal, a banded block computation for the window). Work = useful flops: 4·D
/// per visible (query, key) pair forward, 3.5× that forward + backward (FlashAttention's count: the backward's five
/// matmuls are 2.5 forwards).
/// </summary>
internal static class AttentionCompare
{
    public static IEnumerable<CompareCase> Cases(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            int b = (int)s["b"]!, h = (int)s["h"]!, l = (int)s["l"]!, d = (int)s["d"]!;
            string maskName = (string)s["mask"]!;
            int window = s["window"] is { } w ? (int)w : 0;
            var mask = maskName switch
            {
                "causal" => AttentionMask.Causal,
                "sliding" => AttentionMask.SlidingWindow(window),
                _ => throw new ArgumentException($"cases.json attention: unknown mask '{maskName}' (causal or sliding)."),
            };
            // Start each shape from an empty pool so the resident memory reflects this shape.
            Device.Cpu.EmptyCache();
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var rng = new Rng(1);
            var q = rng.Normal(new[] { b, h, l, d });
            var k = rng.Normal(new[] { b, h, l, d });
            var v = rng.Normal(new[] { b, h, l, d });
            var dO = rng.Normal(new[] { b, h, l, d });
            float scale = Attention.DefaultScale(d);
            double pairs = VisiblePairs(l, maskName == "causal" ? l : window);
            double forward = 4.0 * b * h * d * pairs;
            string shape = $"L={l} B={b} H={h} D={d}" + (window > 0 ? $" w={window}" : "");
            yield return new CompareCase("attention", $"{maskName}_fwd", shape, forward, "GFLOP/s", () =>
            {
                using var r = Attention.Forward(q, k, v, mask, scale);
            });
            yield return new CompareCase("attention", $"{maskName}_fwd_bwd", shape, 3.5 * forward, "GFLOP/s", () =>
            {
                using var r = Attention.Forward(q, k, v, mask, scale);
                var g = Attention.Backward(q, k, v, r.Output, r.Lse, dO, mask, scale);
                g.Dq!.Dispose();
                g.Dk!.Dispose();
                g.Dv!.Dispose();
            }) { Resources = new IDisposable[] { q, k, v, dO } };
        }
    }

    /// <summary>Σ_i min(i + 1, w): the (query, key) pairs a causal window of w keys sees over L queries (w = L: causal).</summary>
    public static double VisiblePairs(int length, int window)
    {
        double w = Math.Min(window, length);
        return w * (w + 1) / 2 + (length - w) * w;
    }
}
