using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Norms"/> (math at the top of Norms.cs). Forward: one thread group per (row, norm group);
/// its threads stride over the group's channels and combine sums with a shared-memory tree reduction. Backward: one thread
/// group per (block of rows, norm group) writes dx/dz row by row and accumulates dy ⊙ x̂ and dy into per-row-block
/// partial sums (each channel owned by one thread, so no atomics); a second kernel adds the partials per channel.
/// Group sizes are powers of two chosen from the device (never above its maximum group size).
/// </summary>
internal static class NormsGpu
{
    /// <summary>Sum of <paramref name="value"/> over the thread group (Group.DimX a power of two; shared holds DimX floats).</summary>
    private static float GroupSum(ArrayView<float> shared, float value)
    {
        int tid = Group.IdxX;
        shared[tid] = value;
        Group.Barrier();
        for (int stride = Group.DimX / 2; stride > 0; stride >>= 1)
        {
            if (tid < stride) shared[tid] += shared[tid + stride];
            Group.Barrier();
        }
        float sum = shared[0];
        Group.Barrier();
        return sum;
    }

    private static float Gated(ArrayView<float> x, ArrayView<float> z, int i, NormSpec s)
        => s.HasZ != 0 ? x[i] * ScalarMath.Silu(z[i]) : x[i];

    /// <summary>Grid: Rows·Groups thread groups; thread group k normalizes norm group k % Groups of row k / Groups.</summary>
    [GpuKernel(Grouped = true)]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> z, ArrayView<float> w, ArrayView<float> b,
        ArrayView<float> y, ArrayView<float> mean, ArrayView<float> rstd, NormSpec s)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int item = Grid.IdxX, n = s.GroupSize;
        int row = item / s.Groups, col0 = (item - row * s.Groups) * n, start = row * s.D + col0;
        // Pass 1: g (gated x) into y, and its sum (LayerNorm) or sum of squares (RMS).
        float acc = 0f;
        for (int j = Group.IdxX; j < n; j += Group.DimX)
        {
            float v = Gated(x, z, start + j, s);
            y[start + j] = v;
            acc += s.Center != 0 ? v : v * v;
        }
        float total = GroupSum(shared, acc), mu = 0f, variance;
        if (s.Center != 0)
        {
            mu = total / n;
            float sq = 0f;
            for (int j = Group.IdxX; j < n; j += Group.DimX)
            {
                float c = y[start + j] - mu;
                sq += c * c;
            }
            variance = GroupSum(shared, sq) / n;
        }
        else variance = total / n;
        float rs = 1f / MathF.Sqrt(variance + s.Eps);
        if (Group.IdxX == 0)
        {
            rstd[item] = rs;
            if (s.Center != 0) mean[item] = mu;
        }
        // Pass 2: each thread rewrites the channels it wrote in pass 1.
        for (int j = Group.IdxX; j < n; j += Group.DimX)
        {
            float v = (y[start + j] - mu) * rs;
            if (s.HasWeight != 0) v *= w[col0 + j];
            if (s.HasBias != 0) v += b[col0 + j];
            y[start + j] = v;
        }
    }

    /// <summary>
    /// Grid: rowBlocks·Groups thread groups; thread group k handles norm group k % Groups of rows
    /// [rb·rowsPerBlock, (rb+1)·rowsPerBlock), rb = k / Groups. Writes dx, dz (when inputGrad != 0) and adds into
    /// dwPartial/dbPartial row rb (when the flags are set; both zero-initialized, [rowBlocks, D]).
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void BackwardKernel(ArrayView<float> dy, ArrayView<float> x, ArrayView<float> z, ArrayView<float> w,
        ArrayView<float> mean, ArrayView<float> rstd, ArrayView<float> dx, ArrayView<float> dz,
        ArrayView<float> dwPartial, ArrayView<float> dbPartial, NormSpec s, int rowsPerBlock, int grads)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int n = s.GroupSize, rb = Grid.IdxX / s.Groups, col0 = (Grid.IdxX - rb * s.Groups) * n;
        int rowEnd = (rb + 1) * rowsPerBlock;
        if (rowEnd > s.Rows) rowEnd = s.Rows;
        bool inputGrad = (grads & 1) != 0, weightGrad = (grads & 2) != 0, biasGrad = (grads & 4) != 0;
        for (int row = rb * rowsPerBlock; row < rowEnd; row++)
        {
            int start = row * s.D + col0, stat = row * s.Groups + col0 / n;
            float rs = rstd[stat], mu = s.Center != 0 ? mean[stat] : 0f;
            float c1 = 0f, c2 = 0f;
            if (inputGrad)
            {
                for (int j = Group.IdxX; j < n; j += Group.DimX)
                {
                    float xhat = (Gated(x, z, start + j, s) - mu) * rs;
                    float u = s.HasWeight != 0 ? dy[start + j] * w[col0 + j] : dy[start + j];
                    c1 += xhat * u;
                    c2 += u;
                }
                c1 = GroupSum(shared, c1) / n;
                c2 = s.Center != 0 ? GroupSum(shared, c2) / n : 0f;
            }
            for (int j = Group.IdxX; j < n; j += Group.DimX)
            {
                int i = start + j, c = col0 + j;
                float xv = x[i], silu = 1f, sig = 0f, zv = 0f;
                if (s.HasZ != 0)
                {
                    zv = z[i];
                    sig = ScalarMath.Sigmoid(zv);
                    silu = zv * sig;
                }
                float xhat = (xv * silu - mu) * rs, g = dy[i];
                if (weightGrad) dwPartial[rb * s.D + c] += g * xhat;
                if (biasGrad) dbPartial[rb * s.D + c] += g;
                if (!inputGrad) continue;
                float u = s.HasWeight != 0 ? g * w[c] : g;
                float dg = (u - xhat * c1 - c2) * rs;
                if (s.HasZ != 0)
                {
                    dz[i] = dg * xv * sig * (1f + zv * (1f - sig));
                    dg *= silu;
                }
                dx[i] = dg;
            }
        }
    }

    /// <summary>One thread per channel c: total[c] = Σ_rb partial[rb·D + c] over the row blocks.</summary>
    [GpuKernel]
    internal static void SumPartialsKernel(Index1D c, ArrayView<float> partial, ArrayView<float> total, int rowBlocks, int d)
    {
        float sum = 0f;
        for (int rb = 0; rb < rowBlocks; rb++) sum += partial[rb * d + c];
        total[c] = sum;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    /// <summary>Threads per group: a power of two, about four channels per thread, at most 256 and the device maximum.</summary>
    private static int GroupThreads(IlgpuDevice dev, int channels)
    {
        int cap = 1;
        while (cap * 2 <= Math.Min(dev.MaxGroupSize, 256)) cap *= 2;
        int want = 1;
        while (want * 4 < channels) want *= 2;
        return Math.Min(cap, Math.Max(want, Math.Min(dev.WarpSize, cap)));
    }

    public static void Forward(NormSpec s, Tensor x, Tensor? z, Tensor? w, Tensor? b, Tensor y, Tensor? mean, Tensor rstd)
    {
        var dev = Dev(x);
        int threads = GroupThreads(dev, s.GroupSize);
        var config = new KernelConfig(s.Rows * s.Groups, threads, SharedMemoryConfig.RequestDynamic<float>(threads));
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, NormSpec>>(ForwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, NormSpec>(ForwardKernel))
            (config, x.View, (z ?? x).View, (w ?? x).View, (b ?? x).View, y.View, (mean ?? rstd).View, rstd.View, s);
    }

    public static void Backward(NormSpec s, Tensor dy, Tensor x, Tensor? z, Tensor? w, Tensor? mean, Tensor rstd,
        Tensor? dx, Tensor? dz, Tensor? dw, Tensor? db)
    {
        var dev = Dev(x);
        int threads = GroupThreads(dev, s.GroupSize);
        // About four thread groups per multiprocessor in all; each row block covers rowsPerBlock consecutive rows.
        int rowBlocks = Math.Clamp((dev.Accelerator.NumMultiprocessors * 4 + s.Groups - 1) / s.Groups, 1, s.Rows);
        int rowsPerBlock = (s.Rows + rowBlocks - 1) / rowBlocks;
        rowBlocks = (s.Rows + rowsPerBlock - 1) / rowsPerBlock;
        using var dwPartial = dw is not null ? Tensor.Zeros(new[] { rowBlocks, s.D }, DType.Float32, dev) : null;
        using var dbPartial = db is not null ? Tensor.Zeros(new[] { rowBlocks, s.D }, DType.Float32, dev) : null;
        int grads = (dx is not null ? 1 : 0) | (dw is not null ? 2 : 0) | (db is not null ? 4 : 0);
        var config = new KernelConfig(rowBlocks * s.Groups, threads, SharedMemoryConfig.RequestDynamic<float>(threads));
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormSpec, int, int>>(BackwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormSpec, int, int>(BackwardKernel))
            (config, dy.View, x.View, (z ?? x).View, (w ?? x).View, (mean ?? rstd).View, rstd.View, (dx ?? dy).View,
             (dz ?? dx ?? dy).View, (dwPartial ?? dbPartial ?? rstd).View, (dbPartial ?? dwPartial ?? rstd).View, s, rowsPerBlock, grads);
        if (dw is not null) SumPartials(dwPartial!, dw, rowBlocks, s.D);
        if (db is not null) SumPartials(dbPartial!, db, rowBlocks, s.D);
    }

    private static void SumPartials(Tensor partial, Tensor total, int rowBlocks, int d)
        => Dev(total).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>>(SumPartialsKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(SumPartialsKernel))
            (d, partial.View, total.View, rowBlocks, d);
}
