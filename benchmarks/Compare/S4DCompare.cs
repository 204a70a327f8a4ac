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
            var (b, _, l, shape, layer, _, x, dy) = Setup(s);
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

    /// <summary>
    /// Where the layer's time goes (Ssm only, no peer; shapes under "s4d_phases" in cases.json): each phase of <see cref="S4D.Forward(Variable)"/>
    /// alone, forward (no grad) and forward+backward (seed gradient) from leaf inputs — "kernel": the kernel generator
    /// (discretization + Vandermonde) into K [1, H, L]; "fftconv": F.FftConv(x, K) at 2L; "head": GELU, the 1×1
    /// convolution as a [2H, H] matmul and GLU with its bias; "layer": the whole layer for reference. The backward of
    /// a phase is its forward+backward minus its forward.
    /// </summary>
    public static IEnumerable<CompareCase> Phases(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var (b, h, l, shape, layer, rng, x, dy) = Setup(s);
            var dk = rng.Normal(new[] { 1, h, l }).DetachFromScope();
            var k = new Variable(rng.Normal(new[] { h, l }).DetachFromScope(), requiresGrad: true);
            var y = new Variable(rng.Normal(new[] { b, h, l }).DetachFromScope(), requiresGrad: true);
            Variable Head(Variable v) => F.Glu(F.MatMul(F.Reshape(layer.OutputWeight, 2 * h, h), F.Gelu(v)), layer.OutputBias, 1);
            var phases = new (string Name, Func<Variable> Forward, Tensor Seed, Variable[] Leaves)[]
            {
                ("kernel", () => layer.Kernel.Forward(l), dk, Array.Empty<Variable>()),
                ("fftconv", () => F.FftConv(x, k), dy, new[] { x, k }),
                ("head", () => Head(y), dy, new[] { y }),
                ("layer", () => layer.Forward(x), dy, new[] { x }),
            };
            double work = (double)b * l * 1e6;
            foreach (var (name, forward, seed, leaves) in phases)
            {
                yield return new CompareCase("s4d_phases", name + "_forward", shape, work, "Ktok/s", () =>
                {
                    using var noGrad = Autograd.NoGrad();
                    using var scope = TensorScope.Begin();
                    forward();
                });
                yield return new CompareCase("s4d_phases", name + "_forward_backward", shape, work, "Ktok/s", () =>
                {
                    using var scope = TensorScope.Begin();
                    layer.ZeroGrad();
                    foreach (var leaf in leaves) leaf.ZeroGrad();
                    forward().Backward(seed);
                });
            }
            layer.Dispose();
            foreach (var t in new[] { x.Data, dy, dk, k.Data, y.Data }) t.Dispose();
        }
    }

    /// <summary>A shape's layer (seed 1) and its input x and seed gradient dy (drawn first from <c>rng</c>, seed 2).</summary>
    private static (int B, int H, int L, string Shape, S4D Layer, Rng Rng, Variable X, Tensor Dy) Setup(JsonNode s)
    {
        int b = (int)s["b"]!, h = (int)s["h"]!, n = (int)s["n"]!, l = (int)s["l"]!;
        var layer = new S4D(new S4DConfig { DModel = h, DState = n }, new Rng(1));
        var rng = new Rng(2);
        var x = new Variable(rng.Normal(new[] { b, h, l }).DetachFromScope(), requiresGrad: true);
        var dy = rng.Normal(new[] { b, h, l }).DetachFromScope();
        return (b, h, l, $"B={b} H={h} N={n} L={l}", layer, rng, x, dy);
    }
}
