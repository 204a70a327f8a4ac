using System.Text.Json.Nodes;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// S4D layer cases (s4d.py defaults: S4D-Lin, ZOH, [B, H, L]): forward under no-grad, and forward+backward with the
/// seed gradient dy (the gradient of loss = Σ y·dy) into x and every parameter. The peer is peer/s4d.py (s4d.py's
/// S4DKernel + FFT convolution at 2L + D skip + GELU + Conv1d(H, 2H, 1) + GLU). Throughput in K tokens/s (B·L per call;
/// Work is tokens × 1e6 so that Work / 1e9 per second reads in K tokens/s).
/// </summary>
internal static class S4DCompare
{
    public static IEnumerable<CompareCase> Cases(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            int b = (int)s["b"]!, h = (int)s["h"]!, n = (int)s["n"]!, l = (int)s["l"]!;
            string shape = $"B={b} H={h} N={n} L={l}";
            var layer = new S4D(new S4DConfig { DModel = h, DState = n }, new Rng(1));
            var rng = new Rng(2);
            var x = new Variable(rng.Normal(new[] { b, h, l }).DetachFromScope(), requiresGrad: true);
            var dy = rng.Normal(new[] { b, h, l }).DetachFromScope();
            double work = (double)b * l * 1e6;
            yield return new CompareCase("s4d", "forward", shape, work, "Ktok/s", () =>
            {
                using var noGrad = Autograd.NoGrad();
                using var scope = TensorScope.Begin();
                layer.Forward(x);
            });
            yield return new CompareCase("s4d", "forward_backward", shape, work, "Ktok/s", () =>
            {
                using var scope = TensorScope.Begin();
                layer.ZeroGrad();
                x.ZeroGrad();
                layer.Forward(x).Backward(dy);
            }) { Resources = new IDisposable[] { layer, x.Data, dy } };
        }
    }
}
