using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Views the <see cref="SsdScan.Step"/> kernel reads and writes (D, DtBias and LogDecaySum are placeholders when absent).</summary>
internal struct SsdStepViews
{
    public ArrayView<float> State, X, Dt, A, B, C, D, DtBias, LogDecaySum, Y;
}

/// <summary>
/// ILGPU kernel of <see cref="SsdScan.Step"/> (the math is in <see cref="SsdStepCpu"/>): a group per (batch, head,
/// block of state rows); each row p is handled by a power-of-two team of threads that stride over the state dimension
/// (coalesced loads of the row, B and C), update the row in place and sum their part of s[p, :]·C; the teams' sums are
/// reduced in shared memory. Group and team sizes come from the device.
/// </summary>
internal static class SsdStepGpu
{
    /// <summary>Largest team of threads per state row.</summary>
    private const int MaxThreadsPerRow = 32;

    [GpuKernel(Grouped = true)]
    internal static void StepKernel(SsdStepDims d, SsdStepViews v, int threadsPerRow)
    {
        int tid = Group.IdxX, P = d.HeadDim, N = d.State, rowsPerGroup = Group.DimX / threadsPerRow;
        int blocks = (P + rowsPerGroup - 1) / rowsPerGroup, bh = Grid.IdxX / blocks, block = Grid.IdxX % blocks;
        int b = bh / d.Heads, h = bh % d.Heads, p = block * rowsPerGroup + tid / threadsPerRow, lane = tid % threadsPerRow;
        var red = SharedMemory.GetDynamic<float>();
        float delta = d.Delta(v.Dt[bh], d.HasDtBias != 0 ? v.DtBias[h] : 0f), decay = MathF.Exp(delta * v.A[h]);
        if (d.HasLogDecaySum != 0 && block == 0 && tid == 0) v.LogDecaySum[bh] += delta * v.A[h];
        float acc = 0f;
        if (p < P)
        {
            float coef = delta * v.X[bh * P + p];
            int so = (bh * P + p) * N, bc = (b * d.Groups + d.Group(h)) * N;
            for (int n = lane; n < N; n += threadsPerRow)
            {
                float s = decay * v.State[so + n] + coef * v.B[bc + n];
                v.State[so + n] = s;
                acc += s * v.C[bc + n];
            }
        }
        red[tid] = acc;
        Group.Barrier();
        for (int stride = threadsPerRow / 2; stride > 0; stride >>= 1)
        {
            if (lane < stride) red[tid] += red[tid + stride];
            Group.Barrier();
        }
        if (lane == 0 && p < P) v.Y[bh * P + p] = red[tid] + (d.HasD != 0 ? v.D[h] * v.X[bh * P + p] : 0f);
    }

    public static void Step(SsdStepDims d, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? dtBias, Tensor? logDecaySum, Tensor y)
    {
        var dev = (IlgpuDevice)x.Device;
        int group = 1, team = 1;
        while (group * 2 <= Math.Min(dev.MaxGroupSize, 256)) group *= 2;
        while (team * 2 <= Math.Min(Math.Min(d.State, MaxThreadsPerRow), group)) team *= 2;
        // Fewer rows than a group holds: shrink the group rather than leave threads idle.
        while (group > team && group / team / 2 >= d.HeadDim) group /= 2;
        int rows = group / team, blocks = (d.HeadDim + rows - 1) / rows;
        var views = new SsdStepViews
        {
            State = state.View, X = x.View, Dt = dt.View, A = a.View, B = B.View, C = C.View,
            D = (D ?? a).View, DtBias = (dtBias ?? a).View, LogDecaySum = (logDecaySum ?? a).View, Y = y.View,
        };
        var config = new KernelConfig(d.Batch * d.Heads * blocks, group, SharedMemoryConfig.RequestDynamic<float>(group));
        dev.Kernel<Action<KernelConfig, SsdStepDims, SsdStepViews, int>>(StepKernel,
            acc => acc.LoadStreamKernel<SsdStepDims, SsdStepViews, int>(StepKernel))(config, d, views, team);
    }
}
