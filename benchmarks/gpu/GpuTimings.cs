using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Benchmarks.Gpu;

/// <summary>
/// One timed kernel on the device. <see cref="Work"/> per call in <see cref="Unit"/>·1e9 (bytes for GB/s, flops for
/// GFLOP/s, tokens·1e9 for tok/s); <see cref="Parameters"/> are the shapes, written to the JSON so the PyTorch-CUDA peer
/// (gpu/peer_cuda.py) runs the same ones; <see cref="Flops"/> optionally adds a GFLOP/s figure to a GB/s kernel.
/// </summary>
internal sealed record GpuTiming(string Kernel, Dictionary<string, int> Parameters, double Work, string Unit, Action Run, IDisposable[] Resources)
{
    public double? Flops { get; init; }
}

/// <summary>The main kernels timed on the GPU (realistic sizes, or tiny ones with <c>--tiny</c>).</summary>
internal static class GpuTimings
{
    public static IEnumerable<GpuTiming> All(Device d, bool tiny)
    {
        int S(int full, int small) => tiny ? small : full;
        var rng = new Rng(21);

        {
            int n = S(4096, 32);
            var a = rng.Normal(new[] { n, n }, device: d);
            var b = rng.Normal(new[] { n, n }, device: d);
            var c = Tensor.Empty(new[] { n, n }, DType.Float32, d);
            yield return new("matmul", new() { ["m"] = n, ["n"] = n, ["k"] = n }, 2.0 * n * n * n, "GFLOP/s",
                () => MatMul.Compute(a, b, output: c), new IDisposable[] { a, b, c });
        }
        {
            int n = S(1 << 26, 4096);
            var a = rng.Normal(new[] { n }, device: d);
            var b = rng.Normal(new[] { n }, device: d);
            var c = Tensor.Empty(new[] { n }, DType.Float32, d);
            yield return new("add", new() { ["n"] = n }, 3.0 * 4 * n, "GB/s", () => Elementwise.Binary(BinaryOp.Add, a, b, c), new IDisposable[] { a, b, c });
        }
        {
            int rows = S(16384, 16), n = S(4096, 64);
            var x = rng.Normal(new[] { rows, n }, device: d);
            yield return new("softmax", new() { ["rows"] = rows, ["n"] = n }, 2.0 * 4 * rows * n, "GB/s", () => Scoped(() => Softmax.Forward(x)), new IDisposable[] { x });
        }
        {
            int rows = S(16384, 16), dim = S(1536, 48);
            var x = rng.Normal(new[] { rows, dim }, device: d);
            var z = rng.Normal(new[] { rows, dim }, device: d);
            var w = rng.Normal(new[] { dim }, device: d);
            yield return new("gated_rmsnorm", new() { ["rows"] = rows, ["dim"] = dim }, 3.0 * 4 * rows * dim, "GB/s",
                () => Scoped(() => Norms.GatedRmsNorm(x, z, w, dim).Output), new IDisposable[] { x, z, w });
        }
        {
            int b = S(8, 2), l = S(4096, 16), c = S(1792, 8);
            var x = rng.Normal(new[] { b, l, c }, device: d);
            var w = rng.Normal(new[] { c, 4 }, device: d);
            var bias = rng.Normal(new[] { c }, device: d);
            yield return new("conv1d", new() { ["batch"] = b, ["length"] = l, ["channels"] = c, ["width"] = 4 }, 2.0 * 4 * b * l * c, "GB/s",
                () => Scoped(() => Conv1d.Forward(x, w, bias, silu: true)), new IDisposable[] { x, w, bias });
        }
        {
            int b = S(8, 1), l = S(4096, 32), h = S(24, 2), p = S(64, 4), n = S(128, 8), q = S(64, 16);
            var shape = new SsdScanShape(b, l, h, p, n, q);
            var parameters = new Dictionary<string, int> { ["batch"] = b, ["length"] = l, ["heads"] = h, ["headdim"] = p, ["d_state"] = n, ["chunk"] = q };
            var w = new SsdScanWorkload(shape, d);
            yield return new("ssd_forward", parameters, shape.Bytes, "GB/s", w.Forward, new IDisposable[] { w }) { Flops = shape.Flops };
            var wb = new SsdScanWorkload(shape, d);
            yield return new("ssd_backward", parameters, shape.BackwardBytes, "GB/s", wb.Backward, new IDisposable[] { wb });
            var ws = new SsdScanWorkload(shape, d);
            yield return new("ssd_step", parameters, shape.StepBytes, "GB/s", ws.Step, new IDisposable[] { ws });
        }
        {
            int b = S(8, 1), l = S(4096, 16), c = S(1536, 8), n = S(16, 4);
            var u = rng.Normal(new[] { b, l, c }, device: d);
            var delta = rng.Uniform(new[] { b, l, c }, 0.001, 0.1, device: d);
            var A = rng.Uniform(new[] { c, n }, -8, -1, device: d);
            var B = rng.Normal(new[] { b, l, n }, device: d);
            var C = rng.Normal(new[] { b, l, n }, device: d);
            yield return new("selective_scan_forward", new() { ["batch"] = b, ["length"] = l, ["channels"] = c, ["d_state"] = n },
                4.0 * (3.0 * b * l * c + 2.0 * b * l * n), "GB/s",
                () => Scoped(() => SelectiveScan.Forward(u, delta, A, B, C).Y), new IDisposable[] { u, delta, A, B, C });
        }
        {
            int b = S(4, 1), h = S(16, 2), l = S(2048, 16), dh = S(64, 8);
            var q = rng.Normal(new[] { b, h, l, dh }, device: d);
            var k = rng.Normal(new[] { b, h, l, dh }, device: d);
            var v = rng.Normal(new[] { b, h, l, dh }, device: d);
            // Causal: half of the L×L score and value products, 2 flops each.
            yield return new("attention_causal_forward", new() { ["batch"] = b, ["heads"] = h, ["length"] = l, ["headdim"] = dh },
                2.0 * 2.0 * b * h * l * (double)l * dh / 2, "GFLOP/s",
                () => Scoped(() => Attention.Forward(q, k, v, AttentionMask.Causal, Attention.DefaultScale(dh)).Output), new IDisposable[] { q, k, v });
        }
        {
            int b = S(8, 1), c = S(768, 4), l = S(4096, 32);
            var u = rng.Normal(new[] { b, c, l }, device: d);
            var k = rng.Normal(new[] { c, l }, std: 0.05, device: d);
            yield return new("fft_conv", new() { ["batch"] = b, ["channels"] = c, ["length"] = l }, 2.0 * 4 * b * c * l, "GB/s",
                () => Scoped(() => FftConv.Causal(u, k)), new IDisposable[] { u, k });
        }
        {
            var shape = new Mamba2Shape(S(8, 1), S(2048, 32), S(768, 32), S(128, 16), S(64, 16), S(64, 16));
            var parameters = new Dictionary<string, int>
            {
                ["batch"] = shape.Batch, ["length"] = shape.Length, ["d_model"] = shape.DModel, ["d_state"] = shape.DState,
                ["headdim"] = shape.HeadDim, ["chunk"] = shape.Chunk,
            };
            var fw = new Mamba2Workload(shape, d);
            yield return new("mamba2_forward", parameters, shape.Tokens * 1e9, "tok/s", fw.Forward, new IDisposable[] { fw });
            var tw = new Mamba2Workload(shape, d);
            yield return new("mamba2_forward_backward", parameters, shape.Tokens * 1e9, "tok/s", tw.ForwardBackward, new IDisposable[] { tw });
            var stepShape = new Mamba2StepShape(S(8, 2), shape.DModel, shape.DState, shape.HeadDim, Steps: S(32, 2));
            var sw = new Mamba2StepWorkload(stepShape, d);
            yield return new("mamba2_step", new() { ["batch"] = stepShape.Batch, ["d_model"] = stepShape.DModel, ["d_state"] = stepShape.DState,
                ["headdim"] = stepShape.HeadDim, ["steps"] = stepShape.Steps }, (double)stepShape.Batch * stepShape.Steps * 1e9, "tok/s", sw.Decode, new IDisposable[] { sw });
        }
    }

    /// <summary>Runs <paramref name="op"/> inside a tensor scope (its outputs are released right away).</summary>
    private static void Scoped(Func<object> op)
    {
        using var scope = TensorScope.Begin();
        op();
    }
}
