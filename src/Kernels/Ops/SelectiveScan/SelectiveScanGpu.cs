using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Inputs of the selective-scan kernels (absent optional inputs point at a placeholder and have their flag 0).</summary>
internal struct ScanViews
{
    public ArrayView<float> U, Delta, A, B, C, D, Z, H0;
    public int HasD, HasZ, HasH0;
}

/// <summary>Buffers of the selective-scan backward.</summary>
internal struct ScanGradViews
{
    public ArrayView<float> Dy, DFinal, Checkpoints, States, Adjoint, Du, Ddelta, DAPartial, DB, DC, DDPartial, Dz, Dh0;
    public int HasDy, HasDFinal, HasDh0;
}

/// <summary>
/// ILGPU kernels of <see cref="SelectiveScan"/> (math in <see cref="SelectiveScanCpu"/>). Forward: a thread per
/// (batch, channel), sequential in time, the state kept in the final-state buffer, optionally saving a checkpoint at
/// the start of each segment. Backward: a group per (batch, block of channels), segments in reverse order; each thread
/// recomputes its states inside the segment from the checkpoint, then runs the adjoint backwards; dB and dC (sums over
/// channels) are first added up in shared memory for the segment, then added to global memory with one atomic per
/// entry and group. dA and dD are summed over the batch by a last kernel.
/// </summary>
internal static class SelectiveScanGpu
{
    [GpuKernel]
    internal static void ForwardKernel(Index1D index, ScanDims s, ScanViews v, ArrayView<float> y, ArrayView<float> state,
        ArrayView<float> checkpoints, int segment, int flags)
    {
        int d = index % s.Channels, b = index / s.Channels, N = s.State, so = s.StateAt(b, d);
        int segments = (s.Length + segment - 1) / segment;
        for (int k = 0; k < N; k++) state[so + k] = v.HasH0 != 0 ? v.H0[so + k] : 0f;
        for (int t = 0; t < s.Length; t++)
        {
            if ((flags & 2) != 0 && t % segment == 0)
                for (int k = 0; k < N; k++) checkpoints[(index * segments + t / segment) * N + k] = state[so + k];
            int i = s.U(b, t, d), bo = s.BC(b, t);
            float dt = v.Delta[i], du = dt * v.U[i], acc = v.HasD != 0 ? v.D[d] * v.U[i] : 0f;
            for (int k = 0; k < N; k++)
            {
                float h = MathF.Exp(dt * v.A[d * N + k]) * state[so + k] + du * v.B[bo + k];
                state[so + k] = h;
                acc += h * v.C[bo + k];
            }
            if (v.HasZ != 0) acc *= Silu(v.Z[i]);
            if ((flags & 1) != 0) y[i] = acc;
        }
    }

    [GpuKernel(Grouped = true)]
    internal static void BackwardKernel(ScanDims s, ScanViews v, ScanGradViews gv, int segment)
    {
        int tid = Group.IdxX, G = Group.DimX, blocks = (s.Channels + G - 1) / G;
        int b = Grid.IdxX / blocks, d = Grid.IdxX % blocks * G + tid, N = s.State;
        bool active = d < s.Channels;
        int segments = (s.Length + segment - 1) / segment, ch = b * s.Channels + d, so = ch * N, hs = ch * segment * N;
        var shared = SharedMemory.GetDynamic<float>();
        var sdB = shared.SubView(0, segment * N);
        var sdC = shared.SubView(segment * N, segment * N);
        float dD = 0;
        if (active)
            for (int k = 0; k < N; k++)
            {
                gv.Adjoint[so + k] = gv.HasDFinal != 0 ? gv.DFinal[so + k] : 0f;
                gv.DAPartial[so + k] = 0f;
            }
        for (int seg = segments - 1; seg >= 0; seg--)
        {
            int t0 = seg * segment, T = Math.Min(segment, s.Length - t0);
            if (active)
            {
                // States before each step of the segment, from the checkpoint.
                for (int k = 0; k < N; k++) gv.States[hs + k] = gv.Checkpoints[(ch * segments + seg) * N + k];
                for (int t = 1; t < T; t++)
                {
                    int i = s.U(b, t0 + t - 1, d), bo = s.BC(b, t0 + t - 1);
                    float dt = v.Delta[i], du = dt * v.U[i];
                    for (int k = 0; k < N; k++)
                        gv.States[hs + t * N + k] = MathF.Exp(dt * v.A[d * N + k]) * gv.States[hs + (t - 1) * N + k] + du * v.B[bo + k];
                }
            }
            for (int e = tid; e < T * N; e += G)
            {
                sdB[e] = 0f;
                sdC[e] = 0f;
            }
            Group.Barrier();
            if (active)
                for (int t = T - 1; t >= 0; t--)
                {
                    int i = s.U(b, t0 + t, d), bo = s.BC(b, t0 + t);
                    float dt = v.Delta[i], uu = v.U[i], du = dt * uu, dout = gv.HasDy != 0 ? gv.Dy[i] : 0f;
                    float zz = v.HasZ != 0 ? v.Z[i] : 0f, sig = 1f / (1f + MathF.Exp(-zz)), yHat = v.HasZ != 0 ? dout * zz * sig : dout;
                    float y = v.HasD != 0 ? v.D[d] * uu : 0f, dDu = 0, dDelta = 0;
                    for (int k = 0; k < N; k++)
                    {
                        float a = v.A[d * N + k], alpha = MathF.Exp(dt * a), hPrev = gv.States[hs + t * N + k];
                        float h = alpha * hPrev + du * v.B[bo + k], g = gv.Adjoint[so + k] + yHat * v.C[bo + k];
                        y += h * v.C[bo + k];
                        Atomic.Add(ref sdC[t * N + k], yHat * h);
                        Atomic.Add(ref sdB[t * N + k], g * du);
                        dDu += g * v.B[bo + k];
                        float dAlpha = g * hPrev * alpha;
                        dDelta += dAlpha * a;
                        gv.DAPartial[so + k] += dAlpha * dt;
                        gv.Adjoint[so + k] = g * alpha;
                    }
                    if (v.HasZ != 0) gv.Dz[i] = dout * y * sig * (1f + zz * (1f - sig));
                    gv.Du[i] = dt * dDu + (v.HasD != 0 ? v.D[d] : 0f) * yHat;
                    gv.Ddelta[i] = uu * dDu + dDelta;
                    dD += yHat * uu;
                }
            Group.Barrier();
            for (int e = tid; e < T * N; e += G)
            {
                Atomic.Add(ref gv.DB[s.BC(b, t0) + e], sdB[e]);
                Atomic.Add(ref gv.DC[s.BC(b, t0) + e], sdC[e]);
            }
            Group.Barrier();
        }
        if (active)
        {
            gv.DDPartial[ch] = dD;
            if (gv.HasDh0 != 0)
                for (int k = 0; k < N; k++) gv.Dh0[so + k] = gv.Adjoint[so + k];
        }
    }

    /// <summary>dA[d, k] = Σ_b partial[b, d, k]; dD[d] = Σ_b partialD[b, d] (on the k = 0 thread).</summary>
    [GpuKernel]
    internal static void ReduceParamsKernel(Index1D index, ScanDims s, ArrayView<float> partialA, ArrayView<float> partialD,
        ArrayView<float> dA, ArrayView<float> dD, int hasD)
    {
        int per = s.Channels * s.State, d = index / s.State;
        float acc = 0;
        for (int b = 0; b < s.Batch; b++) acc += partialA[b * per + index];
        dA[index] = acc;
        if (hasD != 0 && index % s.State == 0)
        {
            float sd = 0;
            for (int b = 0; b < s.Batch; b++) sd += partialD[b * s.Channels + d];
            dD[d] = sd;
        }
    }

    private static float Silu(float z) => z / (1f + MathF.Exp(-z));

    // ---- host side --------------------------------------------------------------------------------------------------

    public static void Forward(ScanDims s, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? h0, Tensor y, Tensor final)
        => RunForward((IlgpuDevice)u.Device, s, Views(u, delta, A, B, C, D, z, h0), y.View, final.View, u.View, 1, 1);

    public static void Backward(ScanDims s, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? h0, Tensor? dy, Tensor? dFinal, SelectiveScanGradients g)
    {
        var dev = (IlgpuDevice)u.Device;
        int N = s.State, channels = s.Batch * s.Channels, group = GroupSize(dev);
        int segment = Math.Min(SelectiveScanCpu.Segment, SharedFloats(dev) / Math.Max(2 * N, 1));
        if (segment < 1)
            throw new NotSupportedException(
                $"SelectiveScan: state {N} needs more shared memory per group than {dev.Name} offers ({SharedFloats(dev) * 4} bytes).");
        int segments = (s.Length + segment - 1) / segment;
        var v = Views(u, delta, A, B, C, D, z, h0);
        using var checkpoints = Scratch(dev, channels * segments * N);
        using var states = Scratch(dev, channels * segment * N);
        using var adjoint = Scratch(dev, channels * N);
        using var dAPartial = Scratch(dev, channels * N);
        using var dDPartial = Scratch(dev, channels);
        RunForward(dev, s, v, u.View, adjoint.View, checkpoints.View, segment, 2);
        var gv = new ScanGradViews
        {
            Dy = (dy ?? u).View, DFinal = (dFinal ?? u).View, Checkpoints = checkpoints.View, States = states.View,
            Adjoint = adjoint.View, Du = g.Du.View, Ddelta = g.Ddelta.View, DAPartial = dAPartial.View, DB = g.DB.View,
            DC = g.DC.View, DDPartial = dDPartial.View, Dz = (g.Dz ?? u).View, Dh0 = (g.DInitialState ?? u).View,
            HasDy = dy is null ? 0 : 1, HasDFinal = dFinal is null ? 0 : 1, HasDh0 = g.DInitialState is null ? 0 : 1,
        };
        int blocks = (s.Channels + group - 1) / group;
        if (channels > 0)
            dev.Kernel<Action<KernelConfig, ScanDims, ScanViews, ScanGradViews, int>>(BackwardKernel,
                acc => acc.LoadStreamKernel<ScanDims, ScanViews, ScanGradViews, int>(BackwardKernel))
                (new KernelConfig(s.Batch * blocks, group, SharedMemoryConfig.RequestDynamic<float>(2 * segment * N)), s, v, gv, segment);
        if (g.DA.Length > 0)
            dev.Kernel<Action<Index1D, ScanDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(ReduceParamsKernel,
                acc => acc.LoadAutoGroupedStreamKernel<Index1D, ScanDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReduceParamsKernel))
                (g.DA.Length, s, dAPartial.View, dDPartial.View, g.DA.View, (g.DD ?? g.DA).View, g.DD is null ? 0 : 1);
    }

    /// <summary>Runs the forward kernel; flags: 1 = write y, 2 = save a checkpoint every <paramref name="segment"/> steps.</summary>
    private static void RunForward(IlgpuDevice dev, ScanDims s, ScanViews v, ArrayView<float> y, ArrayView<float> state,
        ArrayView<float> checkpoints, int segment, int flags)
    {
        if (s.Batch * s.Channels == 0) return;
        dev.Kernel<Action<Index1D, ScanDims, ScanViews, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(ForwardKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ScanDims, ScanViews, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ForwardKernel))
            (s.Batch * s.Channels, s, v, y, state, checkpoints, segment, flags);
    }

    private static ScanViews Views(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? h0) => new()
    {
        U = u.View, Delta = delta.View, A = A.View, B = B.View, C = C.View, D = (D ?? u).View, Z = (z ?? u).View, H0 = (h0 ?? u).View,
        HasD = D is null ? 0 : 1, HasZ = z is null ? 0 : 1, HasH0 = h0 is null ? 0 : 1,
    };

    private static Tensor Scratch(IlgpuDevice dev, int length) => Tensor.Empty(new[] { length }, DType.Float32, dev);

    private static int GroupSize(IlgpuDevice dev) => Math.Min(dev.MaxGroupSize, 128);

    private static int SharedFloats(IlgpuDevice dev) => (int)(Math.Min(dev.Accelerator.MaxSharedMemoryPerGroup, 48 * 1024) / sizeof(float));
}
