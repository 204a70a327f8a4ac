using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Conv1d"/> (math at the top of Conv1d.cs). Rows (b, t) run in parallel; each
/// row is a few SIMD multiply-adds over the channels with the weight transposed to taps [W, C]. The weight/bias gradients
/// are per-worker partial sums added at the end.
/// </summary>
internal static class Conv1dCpu
{
    /// <summary>Rows x[b, t, :] of the input, including the W − 1 rows before t = 0 (from the initial state, or zero).</summary>
    private readonly struct Source
    {
        private readonly float[] _x;
        private readonly int _offset, _length, _channels, _width;
        private readonly float[]? _prefix; // [B, W − 1, C]: row W − 1 + t holds x[b, t, :] for t in [−(W−1), −1]

        public Source(ConvSpec s, Tensor x, Tensor? state)
        {
            _x = x.Data;
            _offset = x.Offset;
            (_length, _channels, _width) = (s.Length, s.Channels, s.Width);
            if (state is null) return;
            int w1 = s.Width - 1, c = s.Channels;
            _prefix = new float[s.Batch * w1 * c];
            var st = state.Span;
            for (int b = 0; b < s.Batch; b++)
                for (int j = 0; j < w1; j++)
                    for (int ch = 0; ch < c; ch++)
                        _prefix[(b * w1 + j) * c + ch] = st[(b * c + ch) * s.Width + j + 1];
        }

        /// <summary>x[b, t, :] for t ≥ −(W−1); empty when the row is zero (before the sequence, without a state).</summary>
        public ReadOnlySpan<float> Row(int b, int t)
        {
            if (t >= 0) return new ReadOnlySpan<float>(_x, _offset + (b * _length + t) * _channels, _channels);
            if (_prefix is null) return ReadOnlySpan<float>.Empty;
            return new ReadOnlySpan<float>(_prefix, (b * (_width - 1) + _width - 1 + t) * _channels, _channels);
        }
    }

    /// <summary>weight [C, W] → taps [W, C] (tap k of every channel contiguous).</summary>
    private static float[] Taps(Tensor weight, int c, int w)
    {
        var src = weight.Span;
        var taps = new float[w * c];
        for (int ch = 0; ch < c; ch++)
            for (int k = 0; k < w; k++)
                taps[k * c + ch] = src[ch * w + k];
        return taps;
    }

    /// <summary>dst = bias + Σ_k taps[k] ⊙ x[b, t − (W−1) + k, :].</summary>
    private static void PreActivation(in Source src, float[] taps, float[]? bias, ConvSpec s, int b, int t, Span<float> dst)
    {
        if (bias is not null) bias.CopyTo(dst);
        else dst.Clear();
        for (int k = 0; k < s.Width; k++)
        {
            var row = src.Row(b, t - (s.Width - 1) + k);
            if (!row.IsEmpty) TensorPrimitives.FusedMultiplyAdd(row, new ReadOnlySpan<float>(taps, k * s.Channels, s.Channels), dst, dst);
        }
    }

    private static int RowsPerChunk(ConvSpec s) => Math.Max(1, 8192 / Math.Max(1, s.Channels * s.Width));

    public static void Forward(ConvSpec s, Tensor x, Tensor weight, Tensor? bias, Tensor? state, Tensor y)
    {
        var src = new Source(s, x, state);
        var taps = Taps(weight, s.Channels, s.Width);
        var biasArr = bias?.Span.ToArray();
        float[] ya = y.Data;
        int yo = y.Offset, c = s.Channels;
        CpuParallel.For(s.Batch * s.Length, RowsPerChunk(s), (r0, r1) =>
        {
            var sig = s.Silu != 0 ? new float[c] : null;
            for (int r = r0; r < r1; r++)
            {
                var yr = new Span<float>(ya, yo + r * c, c);
                PreActivation(src, taps, biasArr, s, r / s.Length, r % s.Length, yr);
                if (sig is null) continue;
                TensorPrimitives.Sigmoid(yr, sig);
                TensorPrimitives.Multiply(yr, sig, yr);
            }
        });
    }

    public static void Backward(ConvSpec s, Tensor dy, Tensor x, Tensor weight, Tensor? bias, Tensor? state,
        Tensor? dx, Tensor? dw, Tensor? db)
    {
        var src = new Source(s, x, state);
        var taps = Taps(weight, s.Channels, s.Width);
        int c = s.Channels, w = s.Width, rows = s.Batch * s.Length;

        // dpre = dy ⊙ SiLU′(pre) with pre recomputed, or dy itself.
        float[] dpre = dy.Data;
        int dpo = dy.Offset;
        using var siluGrad = s.Silu != 0 ? Tensor.Empty(dy.Shape, DType.Float32, dy.Device) : null;
        if (siluGrad is not null)
        {
            var biasArr = bias?.Span.ToArray();
            float[] dya = dy.Data, buf = siluGrad.Data;
            int dyo = dy.Offset, bo = siluGrad.Offset;
            CpuParallel.For(rows, RowsPerChunk(s), (r0, r1) =>
            {
                float[] sig = new float[c], u = new float[c];
                for (int r = r0; r < r1; r++)
                {
                    var pre = new Span<float>(buf, bo + r * c, c);
                    PreActivation(src, taps, biasArr, s, r / s.Length, r % s.Length, pre);
                    TensorPrimitives.Sigmoid(pre, sig);                  // SiLU′(p) = σ(p)(1 + p(1 − σ(p)))
                    TensorPrimitives.Subtract(1f, sig, u);
                    TensorPrimitives.MultiplyAdd(pre, u, 1f, u);
                    TensorPrimitives.Multiply(u, sig, u);
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(dya, dyo + r * c, c), u, pre);
                }
            });
            dpre = buf;
            dpo = bo;
        }

        int parts = Math.Max(1, Math.Min(CpuDevice.Threads, rows / RowsPerChunk(s)));
        var dwParts = dw is not null ? new float[parts][] : null;
        var dbParts = db is not null ? new float[parts][] : null;
        CpuParallel.Each(parts, p =>
        {
            int r0 = (int)((long)rows * p / parts), r1 = (int)((long)rows * (p + 1) / parts);
            var pdw = dwParts is not null ? dwParts[p] = new float[w * c] : null;
            var pdb = dbParts is not null ? dbParts[p] = new float[c] : null;
            for (int r = r0; r < r1; r++)
            {
                int b = r / s.Length, t = r % s.Length;
                var g = new ReadOnlySpan<float>(dpre, dpo + r * c, c);
                if (dx is not null)
                {
                    var dxr = new Span<float>(dx.Data, dx.Offset + r * c, c);
                    dxr.Clear();
                    for (int k = 0; k < w; k++)
                    {
                        int later = t + (w - 1) - k; // the output step that saw x[b, t] through tap k
                        if (later < s.Length)
                            TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<float>(dpre, dpo + (r + later - t) * c, c),
                                new ReadOnlySpan<float>(taps, k * c, c), dxr, dxr);
                    }
                }
                if (pdw is not null)
                    for (int k = 0; k < w; k++)
                    {
                        var row = src.Row(b, t - (w - 1) + k);
                        if (row.IsEmpty) continue;
                        var acc = new Span<float>(pdw, k * c, c);
                        TensorPrimitives.FusedMultiplyAdd(g, row, acc, acc);
                    }
                if (pdb is not null) TensorPrimitives.Add(pdb, g, pdb);
            }
        });
        if (dw is not null)
        {
            var dst = dw.Span;
            foreach (var part in dwParts!)
                for (int ch = 0; ch < c; ch++)
                    for (int k = 0; k < w; k++)
                        dst[ch * w + k] += part[k * c + ch];
        }
        if (db is not null)
        {
            var dst = db.Span;
            foreach (var part in dbParts!) TensorPrimitives.Add(dst, part, dst);
        }
    }

    /// <summary>Widths up to this run the step as a scalar shift-and-multiply loop (a span copy and a vector dot per row
    /// cost more than the few multiply-adds of a short kernel).</summary>
    private const int ShortWidth = 8;

    public static void Step(ConvSpec s, Tensor state, Tensor xt, Tensor weight, Tensor? bias, Tensor y)
    {
        float[] st = state.Data, xa = xt.Data, wa = weight.Data, ya = y.Data;
        float[]? ba = bias?.Data;
        int so = state.Offset, xo = xt.Offset, wo = weight.Offset, yo = y.Offset, bo = bias?.Offset ?? 0, w = s.Width;
        int channels = s.Channels;
        bool silu = s.Silu != 0;
        CpuParallel.For(s.Batch * channels, Math.Max(1, 4096 / w), (i0, i1) =>
        {
            for (int i = i0, c = i0 % channels; i < i1; i++, c = c + 1 == channels ? 0 : c + 1)
            {
                int r = so + i * w, k0 = wo + c * w;
                float xi = xa[xo + i], acc;
                if (w <= ShortWidth)
                {
                    acc = 0;
                    for (int k = 0; k < w - 1; k++)
                    {
                        float v = st[r + k + 1];
                        st[r + k] = v;
                        acc += v * wa[k0 + k];
                    }
                    st[r + w - 1] = xi;
                    acc += xi * wa[k0 + w - 1];
                }
                else
                {
                    var row = new Span<float>(st, r, w);
                    row[1..].CopyTo(row);
                    row[w - 1] = xi;
                    acc = TensorPrimitives.Dot(row, new ReadOnlySpan<float>(wa, k0, w));
                }
                if (ba is not null) acc += ba[bo + c];
                ya[yo + i] = acc;
            }
            if (silu) SiluInPlace(new Span<float>(ya, yo + i0, i1 - i0));
        });
    }

    /// <summary>v ← v·sigmoid(v), vectorized over blocks (a scalar exp per channel would cost more than the convolution).</summary>
    private static void SiluInPlace(Span<float> v)
    {
        Span<float> sigmoid = stackalloc float[512];
        for (int k = 0; k < v.Length; k += sigmoid.Length)
        {
            var part = v.Slice(k, Math.Min(sigmoid.Length, v.Length - k));
            var sg = sigmoid[..part.Length];
            TensorPrimitives.Sigmoid(part, sg);
            TensorPrimitives.Multiply(part, sg, part);
        }
    }

    public static void StateFromPrefix(ConvSpec s, Tensor x, Tensor? initial, Tensor state)
    {
        var xa = x.Span;
        var init = initial is null ? default : initial.Span;
        var dst = state.Span;
        int w = s.Width, c = s.Channels, l = s.Length;
        for (int b = 0; b < s.Batch; b++)
            for (int ch = 0; ch < c; ch++)
                for (int k = 0; k < w; k++)
                {
                    int t = l - w + k, i = (b * c + ch) * w + k;
                    dst[i] = t >= 0 ? xa[(b * l + t) * c + ch] : initial is not null ? init[(b * c + ch) * w + w + t] : 0f;
                }
    }
}
