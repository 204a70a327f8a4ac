using Ssm.Kernels;

namespace Ssm.Benchmarks.Gpu;

/// <summary>
/// One parity check: <see cref="Run"/> computes the named outputs of an op family on a device from inputs drawn with a
/// fixed seed (so the CPU and the GPU see identical data); the runner compares the GPU's outputs with the CPU's.
/// <see cref="Rtol"/> bounds max|gpu − cpu| / max|cpu| per output (float32, reduction orders differ).
/// </summary>
internal sealed record ParityCheck(string Family, string Op, string Shape, double Rtol, Func<Device, (string Name, Tensor Value)[]> Run);

/// <summary>
/// CUDA (or any ILGPU device) vs the managed CPU backend for every op family, forward and backward, at realistic sizes
/// (or tiny ones for a run on the ILGPU CPU accelerator, <c>--tiny</c>).
/// </summary>
internal static class ParityChecks
{
    public static IEnumerable<ParityCheck> All(bool tiny)
    {
        int S(int full, int small) => tiny ? small : full;

        // ---- Elementwise
        {
            int rows = S(4096, 16), cols = S(1024, 37);
            yield return new("Elementwise", "add broadcast, silu, gelu, softplus, exp, axpy, sum_to", $"[{rows}, {cols}]", 1e-5, d =>
            {
                var rng = new Rng(1);
                var a = rng.Normal(new[] { rows, cols }, device: d);
                var b = rng.Normal(new[] { cols }, device: d);
                var y = Elementwise.Add(a, b);
                var axpy = a.Clone();
                Elementwise.Axpy(0.5f, y, axpy);
                return new[]
                {
                    ("add", y), ("silu", Elementwise.Unary(UnaryOp.Silu, a)), ("gelu", Elementwise.Unary(UnaryOp.Gelu, a)),
                    ("softplus", Elementwise.Unary(UnaryOp.Softplus, a)), ("exp", Elementwise.Unary(UnaryOp.Exp, a)),
                    ("silu_backward", Elementwise.UnaryBackward(UnaryOp.Silu, a, y)), ("axpy", axpy),
                    ("sum_to", Elementwise.SumTo(a, new[] { cols })),
                };
            });
        }
        // ---- Layout
        {
            int b = S(4, 2), l = S(1024, 7), h = S(16, 3), p = S(64, 5);
            yield return new("Layout", "permute, transpose, narrow, concat", $"[{b}, {l}, {h}, {p}]", 0, d =>
            {
                var x = new Rng(2).Normal(new[] { b, l, h, p }, device: d);
                return new[]
                {
                    ("permute", Layout.Permute(x, 0, 2, 1, 3)), ("transpose", Layout.Transpose(x, 1, 3)),
                    ("narrow", Layout.Narrow(x, 2, 1, h - 1)), ("concat", Layout.Concat(new[] { x, x }, 3)),
                };
            });
        }
        // ---- Reductions
        {
            int rows = S(4096, 9), cols = S(2048, 33);
            yield return new("Reductions", "sum, mean, max, backward", $"[{rows}, {cols}]", 1e-4, d =>
            {
                var x = new Rng(3).Normal(new[] { rows, cols }, device: d);
                var (values, indices) = Reductions.Max(x, 1);
                return new[]
                {
                    ("sum_all", Reductions.Sum(x)), ("mean_dim0", Reductions.Mean(x, 0)), ("sum_dim1", Reductions.Sum(x, 1)),
                    ("max_values", values), ("max_backward", Reductions.MaxBackward(values, indices, x.Shape, 1)),
                    ("sum_backward", Reductions.SumBackward(Reductions.Sum(x, 1), x.Shape, 1)),
                };
            });
        }
        // ---- Softmax
        {
            int rows = S(4096, 10), n = S(1024, 29);
            yield return new("Softmax", "softmax, log_softmax, backward", $"[{rows}, {n}]", 1e-4, d =>
            {
                var rng = new Rng(4);
                var x = rng.Normal(new[] { rows, n }, std: 3, device: d);
                var dy = rng.Normal(new[] { rows, n }, device: d);
                var y = Softmax.Forward(x);
                var ly = Softmax.Forward(x, log: true);
                return new[] { ("softmax", y), ("log_softmax", ly), ("backward", Softmax.Backward(y, dy)), ("log_backward", Softmax.Backward(ly, dy, log: true)) };
            });
        }
        // ---- CrossEntropy
        {
            int rows = S(4096, 12), vocab = S(32000, 50);
            yield return new("CrossEntropy", "forward (mean, label smoothing 0.1, ignore index), backward", $"[{rows}, {vocab}]", 1e-4, d =>
            {
                var rng = new Rng(5);
                var logits = rng.Normal(new[] { rows, vocab }, std: 2, device: d);
                var targets = Enumerable.Range(0, rows).Select(i => i % 7 == 0 ? -100 : rng.Next(vocab)).ToArray();
                var t = Tensor.From(targets, new[] { rows }, d);
                var r = CrossEntropy.Forward(logits, t, labelSmoothing: 0.1f);
                return new[] { ("loss", r.Loss), ("backward", CrossEntropy.Backward(logits, t, r, Tensor.Scalar(1f, d))) };
            });
        }
        // ---- Embedding
        {
            int vocab = S(32000, 40), dim = S(768, 12), n = S(8192, 30);
            yield return new("Embedding", "gather, scatter-add backward", $"V {vocab}, D {dim}, {n} ids", 1e-5, d =>
            {
                var rng = new Rng(6);
                var w = rng.Normal(new[] { vocab, dim }, device: d);
                var ids = Tensor.From(Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray(), new[] { n }, d);
                var dy = rng.Normal(new[] { n, dim }, device: d);
                return new[] { ("forward", Kernels.Embedding.Forward(ids, w)), ("backward", Kernels.Embedding.Backward(ids, dy, vocab)) };
            });
        }
        // ---- Norms
        {
            int rows = S(8192, 11), dim = S(1536, 24), group = dim / 2;
            yield return new("Norms", "layer/rms/gated-rms norm forward and backward", $"[{rows}, {dim}]", 1e-4, d =>
            {
                var rng = new Rng(7);
                var x = rng.Normal(new[] { rows, dim }, device: d);
                var z = rng.Normal(new[] { rows, dim }, device: d);
                var w = rng.Normal(new[] { dim }, device: d);
                var bias = rng.Normal(new[] { dim }, device: d);
                var dy = rng.Normal(new[] { rows, dim }, device: d);
                var ln = Norms.LayerNorm(x, w, bias);
                var lg = Norms.LayerNormBackward(dy, x, w, ln.Mean!, ln.Rstd);
                var rms = Norms.RmsNorm(x, w);
                var rg = Norms.RmsNormBackward(dy, x, w, rms.Rstd);
                var gated = Norms.GatedRmsNorm(x, z, w, group);
                var gg = Norms.GatedRmsNormBackward(dy, x, z, w, gated.Rstd, group);
                return new[]
                {
                    ("layernorm", ln.Output), ("layernorm_dx", lg.Dx!), ("layernorm_dw", lg.Dweight!), ("layernorm_db", lg.Dbias!),
                    ("rmsnorm", rms.Output), ("rmsnorm_dx", rg.Dx!), ("rmsnorm_dw", rg.Dweight!),
                    ("gated", gated.Output), ("gated_dx", gg.Dx!), ("gated_dz", gg.Dz!), ("gated_dw", gg.Dweight!),
                };
            });
        }
        // ---- Conv1d
        {
            int b = S(4, 2), l = S(4096, 13), c = S(1792, 6), w = 4;
            yield return new("Conv1d", "causal depthwise forward (+SiLU, initial state), backward, step", $"[{b}, {l}, {c}], width {w}", 1e-4, d =>
            {
                var rng = new Rng(8);
                var x = rng.Normal(new[] { b, l, c }, device: d);
                var weight = rng.Normal(new[] { c, w }, device: d);
                var bias = rng.Normal(new[] { c }, device: d);
                var state = rng.Normal(new[] { b, c, w }, device: d);
                var dy = rng.Normal(new[] { b, l, c }, device: d);
                var y = Conv1d.Forward(x, weight, bias, silu: true, initialState: state);
                var g = Conv1d.Backward(dy, x, weight, bias, silu: true, initialState: state);
                var stepState = state.Clone();
                var ys = Conv1d.Step(stepState, Layout.Narrow(x, 1, 0, 1).Reshape(b, c), weight, bias, silu: true);
                return new[] { ("forward", y), ("dx", g.Dx!), ("dweight", g.Dweight!), ("dbias", g.Dbias!), ("step", ys), ("step_state", stepState) };
            });
        }
        // ---- MatMul
        {
            int m = S(1024, 19), k = S(1024, 23), n = S(1024, 17), batch = S(8, 3);
            yield return new("MatMul", "plain, transposed A/B, batched", $"{m}x{n}x{k}, batch {batch}", 1e-4, d =>
            {
                var rng = new Rng(9);
                var a = rng.Normal(new[] { m, k }, device: d);
                var b = rng.Normal(new[] { k, n }, device: d);
                var bt = rng.Normal(new[] { n, k }, device: d);
                var ba = rng.Normal(new[] { batch, m, k }, device: d);
                var bb = rng.Normal(new[] { batch, k, n }, device: d);
                return new[]
                {
                    ("ab", MatMul.Compute(a, b)), ("abt", MatMul.Compute(a, bt, transB: true)),
                    ("atb", MatMul.Compute(a, a, transA: true)), ("batched", MatMul.Compute(ba, bb)),
                };
            });
        }
        // ---- Fft / FftConv
        {
            int rows = S(512, 3), len = S(4096, 24), b = S(2, 2), c = S(256, 3), l = S(4096, 20);
            yield return new("Fft", "rfft, irfft (power of two and Bluestein lengths)", $"[{rows}, {len}]", 1e-4, d =>
            {
                var x = new Rng(10).Normal(new[] { rows, len }, device: d);
                var spec = Fft.Rfft(x);
                return new[] { ("rfft", spec), ("irfft", Fft.Irfft(spec, len)), ("rfft_odd", Fft.Rfft(x, len - 3)) };
            });
            yield return new("FftConv", "causal FFT convolution forward and backward", $"[{b}, {c}, {l}]", 1e-4, d =>
            {
                var rng = new Rng(11);
                var u = rng.Normal(new[] { b, c, l }, device: d);
                var k = rng.Normal(new[] { c, l }, std: 0.05, device: d);
                var dy = rng.Normal(new[] { b, c, l }, device: d);
                var (du, dk) = FftConv.CausalBackward(u, k, dy);
                return new[] { ("forward", FftConv.Causal(u, k)), ("du", du!), ("dk", dk!) };
            });
        }
        // ---- Ssd
        {
            int b = S(2, 2), l = S(2048, 21), h = S(24, 4), p = S(64, 3), n = S(128, 5), chunk = S(64, 8);
            yield return new("Ssd", "chunked scan forward, backward, fused step", $"B {b}, L {l}, H {h}, P {p}, N {n}, chunk {chunk}", 1e-3, d =>
            {
                var rng = new Rng(12);
                var x = rng.Normal(new[] { b, l, h, p }, device: d);
                var dt = rng.Uniform(new[] { b, l, h }, 0.001, 0.1, device: d);
                var a = rng.Uniform(new[] { h }, -8, -1, device: d);
                var B = rng.Normal(new[] { b, l, 1, n }, device: d);
                var C = rng.Normal(new[] { b, l, 1, n }, device: d);
                var D = rng.Normal(new[] { h }, device: d);
                var h0 = rng.Normal(new[] { b, h, p, n }, device: d);
                var dy = rng.Normal(new[] { b, l, h, p }, device: d);
                var (y, final) = SsdScan.Forward(x, dt, a, B, C, D, h0, chunk);
                var g = SsdScan.Backward(x, dt, a, B, C, D, h0, chunk, dy, null);
                var state = h0.Clone();
                var ys = SsdScan.Step(state, Layout.Narrow(x, 1, 0, 1).Reshape(b, h, p), Layout.Narrow(dt, 1, 0, 1).Reshape(b, h), a,
                    Layout.Narrow(B, 1, 0, 1).Reshape(b, 1, n), Layout.Narrow(C, 1, 0, 1).Reshape(b, 1, n), D);
                return new[]
                {
                    ("y", y), ("final", final), ("dx", g.Dx), ("ddt", g.Ddt), ("da", g.Da), ("dB", g.DB), ("dC", g.DC), ("dD", g.DD!),
                    ("dh0", g.DInitialState!), ("step_y", ys), ("step_state", state),
                };
            });
        }
        // ---- SelectiveScan
        {
            int b = S(2, 2), l = S(2048, 17), c = S(1536, 5), n = S(16, 4);
            yield return new("SelectiveScan", "Mamba-1 scan forward (gated) and backward", $"B {b}, L {l}, D {c}, N {n}", 1e-3, d =>
            {
                var rng = new Rng(13);
                var u = rng.Normal(new[] { b, l, c }, device: d);
                var delta = rng.Uniform(new[] { b, l, c }, 0.001, 0.1, device: d);
                var A = rng.Uniform(new[] { c, n }, -8, -1, device: d);
                var B = rng.Normal(new[] { b, l, n }, device: d);
                var C = rng.Normal(new[] { b, l, n }, device: d);
                var D = rng.Normal(new[] { c }, device: d);
                var z = rng.Normal(new[] { b, l, c }, device: d);
                var dy = rng.Normal(new[] { b, l, c }, device: d);
                var (y, final) = SelectiveScan.Forward(u, delta, A, B, C, D, z);
                var g = SelectiveScan.Backward(u, delta, A, B, C, D, z, null, dy, null);
                return new[] { ("y", y), ("final", final), ("du", g.Du), ("ddelta", g.Ddelta), ("dA", g.DA), ("dB", g.DB), ("dC", g.DC), ("dz", g.Dz!) };
            });
        }
        // ---- Vandermonde / Cauchy (S4D and S4 kernels)
        {
            int h = S(512, 3), n2 = S(32, 4), l = S(4096, 25);
            yield return new("Vandermonde", "S4D kernel and backward", $"H {h}, N/2 {n2}, L {l}", 1e-3, d =>
            {
                var rng = new Rng(14);
                var dtA = Tensor.From(Enumerable.Range(0, h * n2).SelectMany(_ => new[] { (float)rng.Uniform(-0.05, -0.001), (float)rng.Uniform(-3, 3) }).ToArray(),
                    new[] { h, n2, 2 }, d);
                var c = rng.Normal(new[] { h, n2, 2 }, device: d);
                var dK = rng.Normal(new[] { h, l }, device: d);
                var (ddtA, dc) = Vandermonde.Backward(dtA, c, dK);
                return new[] { ("kernel", Vandermonde.Kernel(dtA, c, l)), ("ddtA", ddtA), ("dc", dc) };
            });
            int r = S(2, 2), hc = S(256, 3), nc = S(32, 4), k = S(2049, 9);
            yield return new("Cauchy", "S4 Cauchy product, backward, Woodbury", $"R {r}, H {hc}, N/2 {nc}, K {k}", 1e-3, d =>
            {
                var rng = new Rng(15);
                var v = rng.Normal(new[] { r, hc, nc, 2 }, device: d);
                var w = Tensor.From(Enumerable.Range(0, hc * nc).SelectMany(_ => new[] { (float)rng.Uniform(-1, -0.1), (float)rng.Uniform(-20, 20) }).ToArray(),
                    new[] { hc, nc, 2 }, d);
                var z = Tensor.From(Enumerable.Range(0, k).SelectMany(i => new[] { 0f, (float)(i * 0.37) }).ToArray(), new[] { k, 2 }, d);
                var dr = rng.Normal(new[] { r, hc, k, 2 }, device: d);
                var prod = Cauchy.Multiply(v, w, z);
                var (dv, dw) = Cauchy.Backward(v, w, z, dr);
                return new[] { ("multiply", prod), ("dv", dv), ("dw", dw) };
            });
        }
        // ---- Attention / Rope
        {
            int b = S(2, 1), h = S(8, 2), l = S(1024, 19), dh = S(64, 8);
            yield return new("Attention", "causal and sliding-window forward and backward, GQA", $"B {b}, H {h}, L {l}, D {dh}", 1e-3, d =>
            {
                var rng = new Rng(16);
                var q = rng.Normal(new[] { b, h, l, dh }, device: d);
                var k = rng.Normal(new[] { b, h / 2, l, dh }, device: d);
                var v = rng.Normal(new[] { b, h / 2, l, dh }, device: d);
                var dO = rng.Normal(new[] { b, h, l, dh }, device: d);
                float scale = Attention.DefaultScale(dh);
                var causal = Attention.Forward(q, k, v, AttentionMask.Causal, scale);
                var g = Attention.Backward(q, k, v, causal.Output, causal.Lse, dO, AttentionMask.Causal, scale);
                var window = Attention.Forward(q, k, v, AttentionMask.SlidingWindow(Math.Max(2, l / 4)), scale);
                return new[] { ("causal", causal.Output), ("lse", causal.Lse), ("dq", g.Dq!), ("dk", g.Dk!), ("dv", g.Dv!), ("sliding", window.Output) };
            });
            yield return new("Rope", "rotary embedding and backward", $"B {b}, H {h}, L {l}, D {dh}", 1e-5, d =>
            {
                var x = new Rng(17).Normal(new[] { b, h, l, dh }, device: d);
                return new[] { ("apply", Rope.Apply(x, offset: 3)), ("interleaved", Rope.Apply(x, interleaved: true)), ("backward", Rope.Backward(x, offset: 3)) };
            });
        }
        // ---- Dropout / Optim
        {
            int n = S(1 << 22, 1000);
            yield return new("Dropout", "p = 0.1 mask from (seed, index)", $"[{n}]", 0, d =>
            {
                var x = new Rng(18).Normal(new[] { n }, device: d);
                return new[] { ("apply", DropoutOps.Apply(x, 0.1f, 1234)) };
            });
            yield return new("Optim", "AdamW step, SGD (momentum, nesterov) step, sum of squares", $"[{n}]", 1e-5, d =>
            {
                var rng = new Rng(19);
                var p = rng.Normal(new[] { n }, device: d);
                var g = rng.Normal(new[] { n }, device: d);
                var m = rng.Normal(new[] { n }, std: 0.1, device: d);
                var v = rng.Uniform(new[] { n }, 0, 0.1, device: d);
                OptimizerOps.AdamW(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.1, 7);
                var q = rng.Normal(new[] { n }, device: d);
                var buffer = rng.Normal(new[] { n }, device: d);
                OptimizerOps.Sgd(q, g, buffer, 0.01, momentum: 0.9, weightDecay: 0.01, nesterov: true);
                var total = Tensor.Zeros(new[] { 1 }, DType.Float32, d);
                OptimizerOps.AddSumOfSquares(g, total);
                return new[] { ("adamw_param", p), ("adamw_exp_avg", m), ("adamw_exp_avg_sq", v), ("sgd_param", q), ("sgd_buffer", buffer), ("sum_of_squares", total) };
            });
        }
    }
}
