using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Conv1d"/> (math at the top of Conv1d.cs). Forward, dpre and dx: one thread per element of
/// [B, L, C] (consecutive threads on consecutive channels, so loads coalesce); each computes its W taps directly.
/// Weight/bias gradients: one thread per (row block, tap or bias, channel) sums over its block of rows into a partial
/// buffer; a second kernel adds the row blocks and writes dweight [C, W] and dbias [C].
/// </summary>
internal static class Conv1dGpu
{
    /// <summary>x[b, t, c] for t ≥ −W: from x for t ≥ 0, else from column W + t of the state (zero without one).</summary>
    private static float Input(ArrayView<float> x, ArrayView<float> state, ConvSpec s, int b, int t, int c)
    {
        if (t >= 0) return x[(b * s.Length + t) * s.Channels + c];
        return s.HasState != 0 ? state[(b * s.Channels + c) * s.Width + s.Width + t] : 0f;
    }

    /// <summary>bias[c] + Σ_k w[c, k]·x[b, t − (W−1) + k, c].</summary>
    private static float PreActivation(ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> state,
        ConvSpec s, int b, int t, int c)
    {
        float acc = s.HasBias != 0 ? bias[c] : 0f;
        for (int k = 0; k < s.Width; k++)
            acc += w[c * s.Width + k] * Input(x, state, s, b, t - (s.Width - 1) + k, c);
        return acc;
    }

    /// <summary>One thread per element i = (b·L + t)·C + c of y.</summary>
    [GpuKernel]
    internal static void ForwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> state, ArrayView<float> y, ConvSpec s)
    {
        int c = i % s.Channels, row = i / s.Channels;
        float pre = PreActivation(x, w, bias, state, s, row / s.Length, row % s.Length, c);
        y[i] = s.Silu != 0 ? ScalarMath.Silu(pre) : pre;
    }

    /// <summary>dpre = dy ⊙ SiLU′(pre), pre recomputed; one thread per element.</summary>
    [GpuKernel]
    internal static void SiluBackwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> state, ArrayView<float> dy, ArrayView<float> dpre, ConvSpec s)
    {
        int c = i % s.Channels, row = i / s.Channels;
        dpre[i] = dy[i] * ScalarMath.SiluGrad(PreActivation(x, w, bias, state, s, row / s.Length, row % s.Length, c));
    }

    /// <summary>dx[b, t, c] = Σ_k w[c, k]·dpre[b, t + (W−1) − k, c] over steps inside the sequence; one thread per element.</summary>
    [GpuKernel]
    internal static void InputGradKernel(Index1D i, ArrayView<float> w, ArrayView<float> dpre, ArrayView<float> dx, ConvSpec s)
    {
        int c = i % s.Channels, t = i / s.Channels % s.Length;
        float acc = 0f;
        for (int k = 0; k < s.Width; k++)
        {
            int ahead = s.Width - 1 - k;
            if (t + ahead < s.Length) acc += w[c * s.Width + k] * dpre[i + ahead * s.Channels];
        }
        dx[i] = acc;
    }

    /// <summary>
    /// One thread per j = (rb·(W+1) + k)·C + c: partial[j] = Σ over rows r of block rb of dpre[r, c]·x[b, t − (W−1) + k, c]
    /// for taps k &lt; W, and Σ dpre[r, c] for k = W (the bias).
    /// </summary>
    [GpuKernel]
    internal static void ParamGradPartialKernel(Index1D j, ArrayView<float> x, ArrayView<float> state, ArrayView<float> dpre,
        ArrayView<float> partial, ConvSpec s, int rowsPerBlock)
    {
        int c = j % s.Channels, k = j / s.Channels % (s.Width + 1), rb = j / (s.Channels * (s.Width + 1));
        int end = (rb + 1) * rowsPerBlock, rows = s.Batch * s.Length;
        if (end > rows) end = rows;
        float acc = 0f;
        for (int r = rb * rowsPerBlock; r < end; r++)
        {
            float g = dpre[r * s.Channels + c];
            acc += k == s.Width ? g : g * Input(x, state, s, r / s.Length, r % s.Length - (s.Width - 1) + k, c);
        }
        partial[j] = acc;
    }

    /// <summary>One thread per (k, c), k ≤ W: adds the row blocks; k &lt; W goes to dw[c, k], k = W to db[c] (flags: 1 dw, 2 db).</summary>
    [GpuKernel]
    internal static void ParamGradSumKernel(Index1D j, ArrayView<float> partial, ArrayView<float> dw, ArrayView<float> db,
        ConvSpec s, int rowBlocks, int grads)
    {
        int c = j % s.Channels, k = j / s.Channels, stride = s.Channels * (s.Width + 1);
        if (k < s.Width ? (grads & 1) == 0 : (grads & 2) == 0) return;
        float sum = 0f;
        for (int rb = 0; rb < rowBlocks; rb++) sum += partial[rb * stride + j];
        if (k < s.Width) dw[c * s.Width + k] = sum;
        else db[c] = sum;
    }

    /// <summary>One thread per (b, c): shift the state row left, append x_t, output the dot product with the weights.</summary>
    [GpuKernel]
    internal static void StepKernel(Index1D i, ArrayView<float> state, ArrayView<float> xt, ArrayView<float> w,
        ArrayView<float> bias, ArrayView<float> y, ConvSpec s)
    {
        int c = i % s.Channels, row = i * s.Width;
        float acc = s.HasBias != 0 ? bias[c] : 0f;
        for (int k = 0; k < s.Width; k++)
        {
            float v = k + 1 < s.Width ? state[row + k + 1] : xt[i];
            state[row + k] = v;
            acc += w[c * s.Width + k] * v;
        }
        y[i] = s.Silu != 0 ? ScalarMath.Silu(acc) : acc;
    }

    /// <summary>One thread per (b, c, k): state[b, c, k] = x[b, L − W + k, c] (from the initial state or zero before t = 0).</summary>
    [GpuKernel]
    internal static void StateFromPrefixKernel(Index1D i, ArrayView<float> x, ArrayView<float> initial, ArrayView<float> state, ConvSpec s)
    {
        int k = i % s.Width, bc = i / s.Width;
        state[i] = Input(x, initial, s, bc / s.Channels, s.Length - s.Width + k, bc % s.Channels);
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(ConvSpec s, Tensor x, Tensor weight, Tensor? bias, Tensor? state, Tensor y)
        => Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>>(ForwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>(ForwardKernel))
            (y.Length, x.View, weight.View, (bias ?? weight).View, (state ?? x).View, y.View, s);

    public static void Backward(ConvSpec s, Tensor dy, Tensor x, Tensor weight, Tensor? bias, Tensor? state,
        Tensor? dx, Tensor? dw, Tensor? db)
    {
        var dev = Dev(x);
        int n = x.Length, rows = s.Batch * s.Length;
        using var siluGrad = s.Silu != 0 ? Tensor.Empty(x.Shape, DType.Float32, dev) : null;
        if (siluGrad is not null)
            dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>>(SiluBackwardKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>(SiluBackwardKernel))
                (n, x.View, weight.View, (bias ?? weight).View, (state ?? x).View, dy.View, siluGrad.View, s);
        var dpre = siluGrad ?? dy;

        if (dx is not null)
            dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>>(InputGradKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>(InputGradKernel))
                (n, weight.View, dpre.View, dx.View, s);

        if (dw is null && db is null) return;
        // Row blocks of at least 4 rows, sized for about four threads per resident thread slot of the device.
        int perBlock = s.Channels * (s.Width + 1);
        int rowsPerBlock = (int)Math.Max(4, (long)rows * perBlock / (4L * dev.Accelerator.MaxNumThreads));
        int rowBlocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
        using var partial = Tensor.Empty(new[] { rowBlocks, s.Width + 1, s.Channels }, DType.Float32, dev);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec, int>>(ParamGradPartialKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec, int>(ParamGradPartialKernel))
            (partial.Length, x.View, (state ?? x).View, dpre.View, partial.View, s, rowsPerBlock);
        int grads = (dw is not null ? 1 : 0) | (db is not null ? 2 : 0);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec, int, int>>(ParamGradSumKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec, int, int>(ParamGradSumKernel))
            (perBlock, partial.View, (dw ?? db!).View, (db ?? dw!).View, s, rowBlocks, grads);
    }

    public static void Step(ConvSpec s, Tensor state, Tensor xt, Tensor weight, Tensor? bias, Tensor y)
        => Dev(xt).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>>(StepKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>(StepKernel))
            (y.Length, state.View, xt.View, weight.View, (bias ?? weight).View, y.View, s);

    public static void StateFromPrefix(ConvSpec s, Tensor x, Tensor? initial, Tensor state)
        => Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>>(StateFromPrefixKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvSpec>(StateFromPrefixKernel))
            (state.Length, x.Length == 0 ? state.View : x.View, (initial ?? state).View, state.View, s);
}
