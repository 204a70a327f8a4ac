using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Views an SSD kernel reads: the inputs and the per-chunk buffers (cum [b,h,c,Q], states [b,h,c,P,N], C·Bᵀ [b,g,c,Q,Q]).</summary>
internal struct SsdViews
{
    public ArrayView<float> X, Dt, A, B, C, D, Cum, States, CB;
    public int HasD;
}

/// <summary>Views of the SSD backward: upstream gy, dS_c, gy·xᵀ per chunk [b,h,c,Q,Q], outputs and per-chunk partial sums.</summary>
internal struct SsdGradViews
{
    public ArrayView<float> Gy, DStates, Gram, Dx, Ddt, DBh, DCh, Partials;
}

/// <summary>
/// ILGPU kernels of <see cref="SsdScan"/>, one per phase as in mamba_ssm's Triton implementation (the math is in
/// <see cref="SsdScanCpu"/>): chunk cumulative sums (a thread per chunk), C·Bᵀ and gy·xᵀ per chunk (a thread per
/// entry), chunk states (a group per (batch, head, chunk), tiles of the chunk's x and B rows in shared memory), state
/// passing (a thread per state element, sequential over chunks), chunk outputs (a group per (batch, head, chunk), tiles
/// of x rows in shared memory) and the chunk backward (a group per (batch, head, chunk), per-step scalars in shared
/// memory, the dA pair sums as per-row prefix sums added with shared atomics). Group sizes and tiles are sized from
/// the device; dB/dC go through a per-head buffer when heads share a group.
/// </summary>
internal static class SsdScanGpu
{
    /// <summary>Caps the shared floats a kernel may use (tests set it to force several tiles per chunk).</summary>
    internal static int? SharedFloatsLimit { get; set; }

    // ---- kernels ----------------------------------------------------------------------------------------------------

    [GpuKernel]
    internal static void CumsumKernel(Index1D item, SsdDims d, ArrayView<float> dt, ArrayView<float> a, ArrayView<float> cum)
    {
        int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads;
        int t0 = c * d.Chunk, T = d.ChunkLength(c), o = d.Cum(b, h, c);
        float ah = a[h], run = 0;
        for (int i = 0; i < T; i++)
        {
            run += dt[d.Dt(b, t0 + i, h)] * ah;
            cum[o + i] = run;
        }
    }

    /// <summary>out[b,k,c,i,j] = left_i·right_j (j ≤ i, else 0) over rows of [b, L, K, E] tensors (K = heads or groups).</summary>
    [GpuKernel]
    internal static void GramKernel(Index1D index, SsdDims d, ArrayView<float> left, ArrayView<float> right, ArrayView<float> output, int perHead)
    {
        int Q = d.Chunk, K = perHead != 0 ? d.Heads : d.Groups, E = perHead != 0 ? d.HeadDim : d.State;
        int j = index % Q, rest = index / Q, i = rest % Q, kc = rest / Q;
        int c = kc % d.Chunks, bk = kc / d.Chunks, k = bk % K, b = bk / K;
        float acc = 0;
        if (j <= i && i < d.ChunkLength(c))
        {
            int lo = ((b * d.Length + c * Q + i) * K + k) * E, ro = ((b * d.Length + c * Q + j) * K + k) * E;
            for (int e = 0; e < E; e++) acc += left[lo + e] * right[ro + e];
        }
        output[index] = acc;
    }

    /// <summary>dst[b,h,c] = Σ_j w_j u_j v_jᵀ with w_j = exp(cumT − cum_j)Δ_j (decayToEnd) or exp(cum_j); a group per chunk.</summary>
    [GpuKernel(Grouped = true)]
    internal static void ChunkSumsKernel(SsdDims d, ArrayView<float> u, ArrayView<float> v, ArrayView<float> dt,
        ArrayView<float> cum, ArrayView<float> dst, int decayToEnd, int tileRows)
    {
        int item = Grid.IdxX, tid = Group.IdxX, G = Group.DimX, P = d.HeadDim, N = d.State;
        int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads, g = h / d.HeadsPerGroup;
        int t0 = c * d.Chunk, T = d.ChunkLength(c), co = d.Cum(b, h, c), so = d.ChunkState(b, h, c);
        var shared = SharedMemory.GetDynamic<float>();
        var w = shared.SubView(0, d.Chunk);
        var tu = shared.SubView(d.Chunk, tileRows * P);
        var tv = shared.SubView(d.Chunk + tileRows * P, tileRows * N);
        float cumT = cum[co + T - 1];
        for (int j = tid; j < T; j += G)
            w[j] = decayToEnd != 0 ? MathF.Exp(cumT - cum[co + j]) * dt[d.Dt(b, t0 + j, h)] : MathF.Exp(cum[co + j]);
        for (int j0 = 0; j0 < T; j0 += tileRows)
        {
            int rows = Math.Min(tileRows, T - j0);
            Group.Barrier();
            for (int e = tid; e < rows * P; e += G)
            {
                int r = e / P;
                tu[e] = w[j0 + r] * u[d.X(b, t0 + j0 + r, h) + e % P];
            }
            for (int e = tid; e < rows * N; e += G)
            {
                int r = e / N;
                tv[e] = v[d.BC(b, t0 + j0 + r, g) + e % N];
            }
            Group.Barrier();
            for (int e = tid; e < P * N; e += G)
            {
                int p = e / N, n = e % N;
                float acc = 0;
                for (int r = 0; r < rows; r++) acc += tu[r * P + p] * tv[r * N + n];
                dst[so + e] = j0 == 0 ? acc : dst[so + e] + acc;
            }
        }
    }

    /// <summary>In place over chunks: states[c] = H_c (the state entering chunk c); final = H_nc. A thread per state element.</summary>
    [GpuKernel]
    internal static void PassStatesKernel(Index1D index, SsdDims d, ArrayView<float> cum, ArrayView<float> states,
        ArrayView<float> h0, int hasH0, ArrayView<float> final)
    {
        int pn = d.HeadDim * d.State, e = index % pn, bh = index / pn, b = bh / d.Heads, h = bh % d.Heads;
        float H = hasH0 != 0 ? h0[index] : 0f;
        for (int c = 0; c < d.Chunks; c++)
        {
            float decay = MathF.Exp(cum[d.Cum(b, h, c) + d.ChunkLength(c) - 1]);
            int k = d.ChunkState(b, h, c) + e;
            float own = states[k];
            states[k] = H;
            H = decay * H + own;
        }
        final[index] = H;
    }

    /// <summary>
    /// In place, reverse over chunks: dStates[c] becomes dS_c = dL/dH_{c+1}; dh0 = dL/dH_0. Flags: 1 = dFinal given,
    /// 2 = dh0 wanted.
    /// </summary>
    [GpuKernel]
    internal static void PassStatesBackwardKernel(Index1D index, SsdDims d, ArrayView<float> cum, ArrayView<float> dStates,
        ArrayView<float> dFinal, ArrayView<float> dh0, int flags)
    {
        int pn = d.HeadDim * d.State, e = index % pn, bh = index / pn, b = bh / d.Heads, h = bh % d.Heads;
        float dH = (flags & 1) != 0 ? dFinal[index] : 0f;
        for (int c = d.Chunks - 1; c >= 0; c--)
        {
            float decay = MathF.Exp(cum[d.Cum(b, h, c) + d.ChunkLength(c) - 1]);
            int k = d.ChunkState(b, h, c) + e;
            float local = dStates[k];
            dStates[k] = dH;
            dH = decay * dH + local;
        }
        if ((flags & 2) != 0) dh0[index] = dH;
    }

    /// <summary>y of one chunk per group: D x + exp(cum_i) H_c C_i, plus the diagonal block over tiles of x rows in shared memory.</summary>
    [GpuKernel(Grouped = true)]
    internal static void ChunkOutputKernel(SsdDims d, SsdViews v, ArrayView<float> y, int tileRows)
    {
        int item = Grid.IdxX, tid = Group.IdxX, G = Group.DimX, P = d.HeadDim, N = d.State, Q = d.Chunk;
        int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads, g = h / d.HeadsPerGroup;
        int t0 = c * Q, T = d.ChunkLength(c), co = d.Cum(b, h, c), so = d.ChunkState(b, h, c);
        int cbo = ((b * d.Groups + g) * d.Chunks + c) * Q * Q;
        var shared = SharedMemory.GetDynamic<float>();
        var sc = shared.SubView(0, Q);
        var sdt = shared.SubView(Q, Q);
        var tx = shared.SubView(2 * Q, tileRows * P);
        for (int j = tid; j < T; j += G)
        {
            sc[j] = v.Cum[co + j];
            sdt[j] = v.Dt[d.Dt(b, t0 + j, h)];
        }
        Group.Barrier();
        float dh = v.HasD != 0 ? v.D[h] : 0f;
        for (int e = tid; e < T * P; e += G)
        {
            int i = e / P, p = e % P, ci = d.BC(b, t0 + i, g);
            float off = 0;
            for (int n = 0; n < N; n++) off += v.States[so + p * N + n] * v.C[ci + n];
            int yi = d.X(b, t0 + i, h) + p;
            y[yi] = dh * v.X[yi] + MathF.Exp(sc[i]) * off;
        }
        for (int j0 = 0; j0 < T; j0 += tileRows)
        {
            int rows = Math.Min(tileRows, T - j0);
            Group.Barrier();
            for (int e = tid; e < rows * P; e += G) tx[e] = v.X[d.X(b, t0 + j0 + e / P, h) + e % P];
            Group.Barrier();
            for (int e = tid; e < T * P; e += G)
            {
                int i = e / P, p = e % P, jEnd = Math.Min(i + 1, j0 + rows);
                float acc = 0, ci = sc[i];
                for (int j = j0; j < jEnd; j++)
                    acc += v.CB[cbo + i * Q + j] * MathF.Exp(ci - sc[j]) * sdt[j] * tx[(j - j0) * P + p];
                y[d.X(b, t0 + i, h) + p] += acc;
            }
        }
    }

    /// <summary>
    /// All gradients of one chunk of one head (a group per (batch, head, chunk)): dx, dΔ, this head's dB and dC rows, and
    /// the chunk's partial sums of da and dD.
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void ChunkBackwardKernel(SsdDims d, SsdViews v, SsdGradViews gv)
    {
        int item = Grid.IdxX, tid = Group.IdxX, G = Group.DimX, P = d.HeadDim, N = d.State, Q = d.Chunk;
        int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads, g = h / d.HeadsPerGroup;
        int t0 = c * Q, T = d.ChunkLength(c), co = d.Cum(b, h, c), so = d.ChunkState(b, h, c);
        int cbo = ((b * d.Groups + g) * d.Chunks + c) * Q * Q, gro = ((b * d.Heads + h) * d.Chunks + c) * Q * Q;
        var shared = SharedMemory.GetDynamic<float>();
        var sc = shared.SubView(0, Q);
        var sdt = shared.SubView(Q, Q);
        var su = shared.SubView(2 * Q, Q);    // x_j·(dS B_j)
        var soff = shared.SubView(3 * Q, Q);  // gy_i·(H_c C_i)
        var sdA = shared.SubView(4 * Q, Q);
        var red = shared.SubView(5 * Q, G);
        for (int j = tid; j < T; j += G)
        {
            sc[j] = v.Cum[co + j];
            sdt[j] = v.Dt[d.Dt(b, t0 + j, h)];
            sdA[j] = 0f;
        }
        for (int m = tid; m < T; m += G)
        {
            int xo = d.X(b, t0 + m, h), bco = d.BC(b, t0 + m, g);
            float u = 0, o = 0;
            for (int p = 0; p < P; p++)
            {
                float sB = 0, hC = 0;
                for (int n = 0; n < N; n++)
                {
                    sB += gv.DStates[so + p * N + n] * v.B[bco + n];
                    hC += v.States[so + p * N + n] * v.C[bco + n];
                }
                u += v.X[xo + p] * sB;
                o += gv.Gy[xo + p] * hC;
            }
            su[m] = u;
            soff[m] = o;
        }
        float local = 0;
        for (int e = tid; e < P * N; e += G) local += v.States[so + e] * gv.DStates[so + e];
        Group.Barrier();
        float cumT = sc[T - 1], pass = MathF.Exp(cumT) * GroupSum(red, local);

        // Σ_{j<m≤i} (C_i·B_j) W_ij as per-row prefix sums.
        for (int i = tid; i < T; i += G)
        {
            float run = 0, ci = sc[i];
            for (int m = 1; m <= i; m++)
            {
                int j = m - 1;
                run += v.CB[cbo + i * Q + j] * MathF.Exp(ci - sc[j]) * sdt[j] * gv.Gram[gro + i * Q + j];
                Atomic.Add(ref sdA[m], run);
            }
        }
        Group.Barrier();

        float ah = v.A[h], daLocal = 0, dDLocal = 0;
        for (int m = tid; m < T; m += G)
        {
            float cm = sc[m], direct = MathF.Exp(cumT - cm) * su[m], dA = sdA[m] + pass;
            for (int i = m; i < T; i++)
            {
                direct += v.CB[cbo + i * Q + m] * MathF.Exp(sc[i] - cm) * gv.Gram[gro + i * Q + m];
                dA += MathF.Exp(sc[i]) * soff[i];
            }
            for (int j = 0; j < m; j++) dA += sdt[j] * MathF.Exp(cumT - sc[j]) * su[j];
            gv.Ddt[d.Dt(b, t0 + m, h)] = direct + ah * dA;
            daLocal += sdt[m] * dA;
            dDLocal += gv.Gram[gro + m * Q + m];
        }
        float daSum = GroupSum(red, daLocal), dDSum = GroupSum(red, dDLocal);
        if (tid == 0)
        {
            int k = (b * d.Heads + h) * d.Chunks + c;
            gv.Partials[k] = daSum;
            gv.Partials[d.Batch * d.Heads * d.Chunks + k] = dDSum;
        }

        float dh = v.HasD != 0 ? v.D[h] : 0f;
        for (int e = tid; e < T * P; e += G)
        {
            int j = e / P, p = e % P, bco = d.BC(b, t0 + j, g);
            float acc = 0, cj = sc[j], st = 0;
            for (int i = j; i < T; i++) acc += v.CB[cbo + i * Q + j] * MathF.Exp(sc[i] - cj) * gv.Gy[d.X(b, t0 + i, h) + p];
            for (int n = 0; n < N; n++) st += gv.DStates[so + p * N + n] * v.B[bco + n];
            int xo = d.X(b, t0 + j, h) + p;
            gv.Dx[xo] = sdt[j] * (acc + MathF.Exp(cumT - cj) * st) + dh * gv.Gy[xo];
        }
        for (int e = tid; e < T * N; e += G)
        {
            int r = e / N, n = e % N, xr = d.X(b, t0 + r, h), outIndex = ((b * d.Length + t0 + r) * d.Heads + h) * N + n;
            float cr = sc[r], toLater = 0, st = 0, fromEarlier = 0, off = 0;
            for (int i = r; i < T; i++) toLater += MathF.Exp(sc[i] - cr) * gv.Gram[gro + i * Q + r] * v.C[d.BC(b, t0 + i, g) + n];
            for (int p = 0; p < P; p++) st += gv.DStates[so + p * N + n] * v.X[xr + p];
            gv.DBh[outIndex] = sdt[r] * (toLater + MathF.Exp(cumT - cr) * st);
            for (int j = 0; j <= r; j++) fromEarlier += MathF.Exp(cr - sc[j]) * sdt[j] * gv.Gram[gro + r * Q + j] * v.B[d.BC(b, t0 + j, g) + n];
            for (int p = 0; p < P; p++) off += v.States[so + p * N + n] * gv.Gy[xr + p];
            gv.DCh[outIndex] = fromEarlier + MathF.Exp(cr) * off;
        }
    }

    /// <summary>dB[b,t,g,n], dC[b,t,g,n] = Σ over the group's heads of the per-head dBh[b,t,h,n], dCh[b,t,h,n].</summary>
    [GpuKernel]
    internal static void ReduceHeadsKernel(Index1D index, SsdDims d, ArrayView<float> dBh, ArrayView<float> dCh,
        ArrayView<float> dB, ArrayView<float> dC)
    {
        int N = d.State, n = index % N, rest = index / N, g = rest % d.Groups, bt = rest / d.Groups, hpg = d.HeadsPerGroup;
        float sb = 0, sc = 0;
        for (int h = g * hpg; h < (g + 1) * hpg; h++)
        {
            sb += dBh[(bt * d.Heads + h) * N + n];
            sc += dCh[(bt * d.Heads + h) * N + n];
        }
        dB[index] = sb;
        dC[index] = sc;
    }

    /// <summary>da[h], dD[h] from the per-(batch, head, chunk) partial sums.</summary>
    [GpuKernel]
    internal static void ReducePartialsKernel(Index1D h, SsdDims d, ArrayView<float> partials, ArrayView<float> da, ArrayView<float> dD, int hasD)
    {
        int per = d.Batch * d.Heads * d.Chunks;
        float sa = 0, sd = 0;
        for (int b = 0; b < d.Batch; b++)
        for (int c = 0; c < d.Chunks; c++)
        {
            int k = (b * d.Heads + h) * d.Chunks + c;
            sa += partials[k];
            sd += partials[per + k];
        }
        da[h] = sa;
        if (hasD != 0) dD[h] = sd;
    }

    /// <summary>Sum of <paramref name="value"/> over the group (power-of-two group size), through shared memory.</summary>
    private static float GroupSum(ArrayView<float> red, float value)
    {
        int tid = Group.IdxX;
        red[tid] = value;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (tid < s) red[tid] += red[tid + s];
            Group.Barrier();
        }
        float result = red[0];
        Group.Barrier();
        return result;
    }

    // ---- host side --------------------------------------------------------------------------------------------------

    public static void Forward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0, Tensor y, Tensor final)
    {
        var dev = (IlgpuDevice)x.Device;
        using var cum = Scratch(dev, d.Batch * d.Heads * d.Chunks * d.Chunk);
        using var states = Scratch(dev, d.Batch * d.Heads * d.Chunks * d.HeadDim * d.State);
        using var cb = Scratch(dev, d.Batch * d.Groups * d.Chunks * d.Chunk * d.Chunk);
        var v = Views(x, dt, a, B, C, D, cum, states, cb);
        ForwardStates(dev, d, v, x, B, h0, final);
        Gram(dev, d, C, B, perHead: false, cb);
        if (d.Length == 0) return;
        int group = GroupSize(dev), tile = TileRows(dev, d, 2 * d.Chunk, d.HeadDim);
        dev.Kernel<Action<KernelConfig, SsdDims, SsdViews, ArrayView<float>, int>>(ChunkOutputKernel,
            acc => acc.LoadStreamKernel<SsdDims, SsdViews, ArrayView<float>, int>(ChunkOutputKernel))
            (Config(dev, d, group, 2 * d.Chunk + tile * d.HeadDim), d, v, y.View, tile);
    }

    public static void Backward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0,
        Tensor? dy, Tensor? dFinal, SsdScanGradients g)
    {
        var dev = (IlgpuDevice)x.Device;
        int per = d.Batch * d.Heads * d.Chunks, pn = d.HeadDim * d.State, qq = d.Chunk * d.Chunk;
        using var cum = Scratch(dev, per * d.Chunk);
        using var states = Scratch(dev, per * pn);
        using var dStates = Scratch(dev, per * pn);
        using var final = Scratch(dev, d.Batch * d.Heads * pn);
        using var cb = Scratch(dev, d.Batch * d.Groups * d.Chunks * qq);
        using var gram = Scratch(dev, per * qq);
        using var partials = Tensor.Zeros(new[] { 2 * per }, DType.Float32, dev);
        using var zeroDy = dy is null ? Tensor.Zeros(x.Shape, DType.Float32, dev) : null;
        bool shared = d.HeadsPerGroup > 1;
        using var dBh = shared ? Scratch(dev, d.Batch * d.Length * d.Heads * d.State) : null;
        using var dCh = shared ? Scratch(dev, d.Batch * d.Length * d.Heads * d.State) : null;
        var gy = dy ?? zeroDy!;

        var v = Views(x, dt, a, B, C, D, cum, states, cb);
        ForwardStates(dev, d, v, x, B, h0, final);
        ChunkSums(dev, d, gy, C, dt, cum, decayToEnd: false, dStates);
        var dh0 = g.DInitialState;
        Launch(dev, PassStatesBackwardKernel, d.Batch * d.Heads * pn, d, cum.View, dStates.View,
            (dFinal ?? x).View, (dh0 ?? x).View, (dFinal is null ? 0 : 1) | (dh0 is null ? 0 : 2));
        Gram(dev, d, C, B, perHead: false, cb);
        Gram(dev, d, gy, x, perHead: true, gram);
        var gv = new SsdGradViews
        {
            Gy = gy.View, DStates = dStates.View, Gram = gram.View, Dx = g.Dx.View, Ddt = g.Ddt.View,
            DBh = (dBh ?? g.DB).View, DCh = (dCh ?? g.DC).View, Partials = partials.View,
        };
        if (per > 0)
        {
            int group = GroupSize(dev);
            dev.Kernel<Action<KernelConfig, SsdDims, SsdViews, SsdGradViews>>(ChunkBackwardKernel,
                acc => acc.LoadStreamKernel<SsdDims, SsdViews, SsdGradViews>(ChunkBackwardKernel))
                (Config(dev, d, group, 5 * d.Chunk + group), d, v, gv);
        }
        if (shared) Launch(dev, ReduceHeadsKernel, g.DB.Length, d, dBh!.View, dCh!.View, g.DB.View, g.DC.View);
        Launch(dev, ReducePartialsKernel, d.Heads, d, partials.View, g.Da.View, (g.DD ?? g.Da).View, g.DD is null ? 0 : 1);
    }

    /// <summary>cum, the chunk states, and state passing (states become the states entering each chunk; final = H_nc).</summary>
    private static void ForwardStates(IlgpuDevice dev, SsdDims d, SsdViews v, Tensor x, Tensor B, Tensor? h0, Tensor final)
    {
        Launch(dev, CumsumKernel, d.Batch * d.Heads * d.Chunks, d, v.Dt, v.A, v.Cum);
        ChunkSums(dev, d, x, B, v.Dt, v.Cum, decayToEnd: true, v.States);
        Launch(dev, PassStatesKernel, final.Length, d, v.Cum, v.States, (h0 ?? final).View, h0 is null ? 0 : 1, final.View);
    }

    private static void ChunkSums(IlgpuDevice dev, SsdDims d, Tensor u, Tensor v, Tensor dt, Tensor cum, bool decayToEnd, Tensor dst)
        => ChunkSums(dev, d, u, v, dt.View, cum.View, decayToEnd, dst.View);

    private static void ChunkSums(IlgpuDevice dev, SsdDims d, Tensor u, Tensor v, ArrayView<float> dt, ArrayView<float> cum,
        bool decayToEnd, ArrayView<float> dst)
    {
        if (d.Batch * d.Heads * d.Chunks == 0) return;
        int tile = TileRows(dev, d, d.Chunk, d.HeadDim + d.State);
        dev.Kernel<Action<KernelConfig, SsdDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(
            ChunkSumsKernel,
            acc => acc.LoadStreamKernel<SsdDims, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(ChunkSumsKernel))
            (Config(dev, d, GroupSize(dev), d.Chunk + tile * (d.HeadDim + d.State)), d, u.View, v.View, dt, cum, dst, decayToEnd ? 1 : 0, tile);
    }

    private static void Gram(IlgpuDevice dev, SsdDims d, Tensor left, Tensor right, bool perHead, Tensor output)
        => Launch(dev, GramKernel, output.Length, d, left.View, right.View, output.View, perHead ? 1 : 0);

    private static SsdViews Views(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor cum, Tensor states, Tensor cb) => new()
    {
        X = x.View, Dt = dt.View, A = a.View, B = B.View, C = C.View, D = (D ?? a).View,
        Cum = cum.View, States = states.View, CB = cb.View, HasD = D is null ? 0 : 1,
    };

    private static Tensor Scratch(IlgpuDevice dev, int length) => Tensor.Empty(new[] { length }, DType.Float32, dev);

    /// <summary>Threads per group: the largest power of two not above the device's group limit or 256.</summary>
    private static int GroupSize(IlgpuDevice dev)
    {
        int limit = Math.Min(dev.MaxGroupSize, 256), size = 1;
        while (size * 2 <= limit) size *= 2;
        return size;
    }

    /// <summary>Rows of a shared tile (each <paramref name="rowFloats"/> wide) that fit next to <paramref name="fixedFloats"/>.</summary>
    private static int TileRows(IlgpuDevice dev, SsdDims d, int fixedFloats, int rowFloats)
    {
        int budget = SharedFloats(dev) - fixedFloats;
        int rows = rowFloats == 0 ? d.Chunk : Math.Min(d.Chunk, budget / rowFloats);
        if (rows < 1)
            throw new NotSupportedException(
                $"SsdScan: chunk {d.Chunk} with headdim {d.HeadDim} and state {d.State} needs more shared memory than " +
                $"{dev.Name} offers per group ({SharedFloats(dev) * 4} bytes); use a smaller chunk.");
        return rows;
    }

    private static int SharedFloats(IlgpuDevice dev)
        => SharedFloatsLimit ?? (int)(Math.Min(dev.Accelerator.MaxSharedMemoryPerGroup, 48 * 1024) / sizeof(float));

    private static KernelConfig Config(IlgpuDevice dev, SsdDims d, int group, int sharedFloats)
    {
        if (sharedFloats > SharedFloats(dev))
            throw new NotSupportedException(
                $"SsdScan: chunk {d.Chunk} needs {sharedFloats * 4} bytes of shared memory per group, more than {dev.Name} " +
                $"offers ({SharedFloats(dev) * 4} bytes); use a smaller chunk.");
        return new KernelConfig(d.Batch * d.Heads * d.Chunks, group, SharedMemoryConfig.RequestDynamic<float>(sharedFloats));
    }

    private static void Launch<T1, T2, T3, T4>(IlgpuDevice dev, Action<Index1D, T1, T2, T3, T4> kernel, int n, T1 a1, T2 a2, T3 a3, T4 a4)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct
    {
        if (n > 0) dev.Kernel<Action<Index1D, T1, T2, T3, T4>>(kernel, acc => acc.LoadAutoGroupedStreamKernel(kernel))(n, a1, a2, a3, a4);
    }

    private static void Launch<T1, T2, T3, T4, T5>(IlgpuDevice dev, Action<Index1D, T1, T2, T3, T4, T5> kernel, int n,
        T1 a1, T2 a2, T3 a3, T4 a4, T5 a5)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct
    {
        if (n > 0) dev.Kernel<Action<Index1D, T1, T2, T3, T4, T5>>(kernel, acc => acc.LoadAutoGroupedStreamKernel(kernel))(n, a1, a2, a3, a4, a5);
    }

    private static void Launch<T1, T2, T3, T4, T5, T6>(IlgpuDevice dev, Action<Index1D, T1, T2, T3, T4, T5, T6> kernel, int n,
        T1 a1, T2 a2, T3 a3, T4 a4, T5 a5, T6 a6)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
    {
        if (n > 0) dev.Kernel<Action<Index1D, T1, T2, T3, T4, T5, T6>>(kernel, acc => acc.LoadAutoGroupedStreamKernel(kernel))(n, a1, a2, a3, a4, a5, a6);
    }
}
