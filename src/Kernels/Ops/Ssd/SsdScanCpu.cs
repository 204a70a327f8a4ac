using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="SsdScan"/>, in the phases of mamba_ssm's Triton kernels. Per chunk c of
/// length T with cum_i = Σ_{k≤i} Δ_k a (inclusive, inside the chunk), cumT = cum_{T−1}:
/// <code>
///   chunk state     S_c = Σ_j exp(cumT − cum_j) Δ_j x_j B_jᵀ
///   state passing   H_0 = s_init,  H_{c+1} = exp(cumT_c) H_c + S_c   (H_c = state entering chunk c)
///   chunk output    y_i = Σ_{j≤i} (C_i·B_j) exp(cum_i − cum_j) Δ_j x_j + exp(cum_i) H_c C_i + D x_i
/// </code>
/// Backward, with gy = dL/dy and dS_c = dL/dH_{c+1} from the reverse pass dH_c = exp(cumT_c) dH_{c+1} + Σ_i
/// exp(cum_i) gy_i C_iᵀ (dH_nc = dL/d final state), G_ij = gy_i·x_j, W_ij = exp(cum_i − cum_j) Δ_j G_ij:
/// <code>
///   dx_j = Δ_j Σ_{i≥j} (C_i·B_j) exp(cum_i − cum_j) gy_i + Δ_j exp(cumT − cum_j) dS B_j + D gy_j
///   dB_j = Σ_{i≥j} W_ij C_i + Δ_j exp(cumT − cum_j) dSᵀ x_j,     dC_i = Σ_{j≤i} W_ij B_j + exp(cum_i) H_cᵀ gy_i
///   dΔ_j = Σ_{i≥j} (C_i·B_j) exp(cum_i − cum_j) G_ij + exp(cumT − cum_j) x_j·(dS B_j) + a·dA_j
///   dA_m (the gradient of A_m = Δ_m a) = Σ_{j&lt;m≤i} (C_i·B_j) W_ij + Σ_{i≥m} exp(cum_i) gy_i·(H_c C_i)
///                                       + Σ_{j&lt;m} Δ_j exp(cumT − cum_j) x_j·(dS B_j) + exp(cumT)⟨H_c, dS⟩
///   da = Σ Δ_m dA_m,   dD = Σ gy·x
/// </code>
/// The dA sum over pairs is accumulated as per-row prefix sums (no difference of large cumulative sums). Parallel over
/// (batch, head, chunk) for chunk states, (batch, head) for state passing and (batch, group, chunk) for outputs and
/// gradients (C·Bᵀ of a chunk is shared by the group's heads, and dB/dC rows are owned by one work item).
/// </summary>
internal static unsafe class SsdScanCpu
{
    public static void Forward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0,
        Tensor y, Tensor final)
    {
        using var cum = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks * d.Chunk }, DType.Float32, Device.Cpu);
        using var states = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks * d.HeadDim * d.State }, DType.Float32, Device.Cpu);
        Cumsum(d, dt, a, cum.Data);
        ChunkSums(d, x, B, dt, cum.Data, decayToEnd: true, states.Data);
        PassStates(d, cum.Data, states.Data, h0, final);
        ChunkOutputs(d, x, dt, B, C, D, cum.Data, states.Data, y);
    }

    public static void Backward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0,
        Tensor? dy, Tensor? dFinal, SsdScanGradients g)
    {
        int pn = d.HeadDim * d.State;
        using var cum = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks * d.Chunk }, DType.Float32, Device.Cpu);
        using var states = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks * pn }, DType.Float32, Device.Cpu);
        using var dStates = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks * pn }, DType.Float32, Device.Cpu);
        using var final = Tensor.Empty(new[] { d.Batch, d.Heads, d.HeadDim, d.State }, DType.Float32, Device.Cpu);
        using var pass = Tensor.Empty(new[] { d.Batch * d.Heads * d.Chunks }, DType.Float32, Device.Cpu);
        using var partials = Tensor.Zeros(new[] { 2, d.Batch * d.Heads * d.Chunks }, DType.Float32, Device.Cpu);
        using var zeroDy = dy is null ? Tensor.Zeros(x.Shape, DType.Float32, Device.Cpu) : null;
        var gy = dy ?? zeroDy!;

        Cumsum(d, dt, a, cum.Data);
        ChunkSums(d, x, B, dt, cum.Data, decayToEnd: true, states.Data);
        PassStates(d, cum.Data, states.Data, h0, final);
        ChunkSums(d, gy, C, dt, cum.Data, decayToEnd: false, dStates.Data);
        PassStatesBackward(d, cum.Data, states.Data, dStates.Data, dFinal, pass.Data, g.DInitialState);
        ChunkGradients(d, x, dt, a, B, C, D, gy, cum.Data, states.Data, dStates.Data, pass.Data, partials.Data, g);

        // da[h] = Σ_{b,c} Σ_m Δ_m dA_m,  dD[h] = Σ gy·x: reduce the per-(batch, head, chunk) partial sums.
        var p = partials.Data;
        int per = d.Batch * d.Heads * d.Chunks;
        var da = g.Da.Span;
        var dD = g.DD is null ? Span<float>.Empty : g.DD.Span;
        for (int h = 0; h < d.Heads; h++)
        {
            double sa = 0, sd = 0;
            for (int b = 0; b < d.Batch; b++)
            for (int c = 0; c < d.Chunks; c++)
            {
                int k = (b * d.Heads + h) * d.Chunks + c;
                sa += p[k];
                sd += p[per + k];
            }
            da[h] = (float)sa;
            if (!dD.IsEmpty) dD[h] = (float)sd;
        }
    }

    /// <summary>cum[b, h, c, i] = Σ_{k≤i} Δ_k a_h inside chunk c.</summary>
    private static void Cumsum(SsdDims d, Tensor dt, Tensor a, float[] cum)
    {
        float[] dts = dt.Data, As = a.Data;
        int dto = dt.Offset, ao = a.Offset;
        CpuParallel.For(d.Batch * d.Heads * d.Chunks, 64, (s, e) =>
        {
            for (int item = s; item < e; item++)
            {
                int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads;
                int t0 = c * d.Chunk, T = d.ChunkLength(c), o = d.Cum(b, h, c);
                float ah = As[ao + h], run = 0;
                for (int i = 0; i < T; i++)
                {
                    run += dts[dto + d.Dt(b, t0 + i, h)] * ah;
                    cum[o + i] = run;
                }
            }
        });
    }

    /// <summary>
    /// Per (batch, head, chunk): dst[c] = Σ_j w_j u_j v_jᵀ (headdim × state) with u per head (x or gy) and v per group
    /// (B or C); w_j = exp(cumT − cum_j) Δ_j (the chunk state) or exp(cum_j) (the state gradient of the outputs). One
    /// product (w∘U)ᵀ·V with the weighted rows of u as its k-major left operand.
    /// </summary>
    private static void ChunkSums(SsdDims d, Tensor u, Tensor v, Tensor dt, float[] cum, bool decayToEnd, float[] dst)
    {
        float[] us = u.Data, vs = v.Data, dts = dt.Data;
        int uo = u.Offset, vo = v.Offset, dto = dt.Offset, P = d.HeadDim, N = d.State, rowBC = d.Groups * N;
        CpuParallel.Each(d.Batch * d.Heads * d.Chunks, item =>
        {
            int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads, g = h / d.HeadsPerGroup;
            int t0 = c * d.Chunk, T = d.ChunkLength(c), co = d.Cum(b, h, c), so = d.ChunkState(b, h, c);
            var uw = ArrayPool<float>.Shared.Rent(T * P);
            float cumT = cum[co + T - 1];
            for (int j = 0; j < T; j++)
            {
                float w = decayToEnd ? MathF.Exp(cumT - cum[co + j]) * dts[dto + d.Dt(b, t0 + j, h)] : MathF.Exp(cum[co + j]);
                TensorPrimitives.Multiply(us.AsSpan(uo + d.X(b, t0 + j, h), P), w, uw.AsSpan(j * P, P));
            }
            fixed (float* pw = uw, pv = vs, pd = dst)
                SmallGemm.Multiply(P, N, T, new Strided(pw, 1, P), new Strided(pv + vo + d.BC(b, t0, g), rowBC), pd + so, N,
                    accumulate: false);
            ArrayPool<float>.Shared.Return(uw);
        });
    }

    /// <summary>
    /// Per (batch, head), in place: states[c] (the chunk's own state S_c) becomes H_c, the state entering chunk c;
    /// <paramref name="final"/> receives H_nc. H_0 is the initial state (or zeros).
    /// </summary>
    private static void PassStates(SsdDims d, float[] cum, float[] states, Tensor? h0, Tensor final)
    {
        int pn = d.HeadDim * d.State;
        float[] fs = final.Data;
        int fo = final.Offset;
        CpuParallel.For(d.Batch * d.Heads, 1, (s, e) =>
        {
            for (int bh = s; bh < e; bh++)
            {
                int b = bh / d.Heads, h = bh % d.Heads;
                var H = fs.AsSpan(fo + d.State0(b, h), pn);
                if (h0 is null) H.Clear();
                else h0.Data.AsSpan(h0.Offset + d.State0(b, h), pn).CopyTo(H);
                for (int c = 0; c < d.Chunks; c++)
                {
                    float decay = MathF.Exp(cum[d.Cum(b, h, c) + d.ChunkLength(c) - 1]);
                    Carry(states.AsSpan(d.ChunkState(b, h, c), pn), H, decay);
                }
            }
        });
    }

    /// <summary>
    /// Per (batch, head), in place: dStates[c] (Σ_i exp(cum_i) gy_i C_iᵀ of chunk c) becomes dS_c = dL/dH_{c+1};
    /// pass[c] = exp(cumT_c)·⟨H_c, dS_c⟩; <paramref name="dInitial"/> (when wanted) receives dL/dH_0.
    /// </summary>
    private static void PassStatesBackward(SsdDims d, float[] cum, float[] states, float[] dStates, Tensor? dFinal,
        float[] pass, Tensor? dInitial)
    {
        int pn = d.HeadDim * d.State;
        CpuParallel.For(d.Batch * d.Heads, 1, (s, e) =>
        {
            var dH = new float[pn];
            for (int bh = s; bh < e; bh++)
            {
                int b = bh / d.Heads, h = bh % d.Heads;
                if (dFinal is null) Array.Clear(dH);
                else dFinal.Data.AsSpan(dFinal.Offset + d.State0(b, h), pn).CopyTo(dH);
                for (int c = d.Chunks - 1; c >= 0; c--)
                {
                    float decay = MathF.Exp(cum[d.Cum(b, h, c) + d.ChunkLength(c) - 1]);
                    int so = d.ChunkState(b, h, c);
                    pass[bh * d.Chunks + c] = decay * TensorPrimitives.Dot(states.AsSpan(so, pn), dH);
                    Carry(dStates.AsSpan(so, pn), dH, decay);
                }
                if (dInitial is not null) dH.CopyTo(dInitial.Data.AsSpan(dInitial.Offset + d.State0(b, h), pn));
            }
        });
    }

    /// <summary>In place, element-wise: (chunk, running) ← (running, decay·running + chunk).</summary>
    private static void Carry(Span<float> chunk, Span<float> running, float decay)
    {
        int n = chunk.Length, k = 0, V = Vector<float>.Count;
        var dv = new Vector<float>(decay);
        for (; k + V <= n; k += V)
        {
            var own = new Vector<float>(chunk[k..]);
            var r = new Vector<float>(running[k..]);
            r.CopyTo(chunk[k..]);
            Vector.FusedMultiplyAdd(dv, r, own).CopyTo(running[k..]);
        }
        for (; k < n; k++) (chunk[k], running[k]) = (running[k], decay * running[k] + chunk[k]);
    }

    /// <summary>
    /// Row j of Mᵀ (length T): m[i] = exp(cum_i − cum_j)·cbT[i]·Δ_j for i ≥ j (+ D at i = j, the D·x term), zeros before.
    /// Exponents are never positive (a ≤ 0, Δ ≥ 0).
    /// </summary>
    private static void OutputRow(ReadOnlySpan<float> cum, int j, float dtj, float dh, float* cbT, float* m)
    {
        int T = cum.Length, V = Vector<float>.Count, i = j;
        var cj = new Vector<float>(cum[j]);
        var dtv = new Vector<float>(dtj);
        for (; i + V <= T; i += V)
            Vector.Store(Vector.Exp(new Vector<float>(cum[i..]) - cj) * Vector.Load(cbT + i) * dtv, m + i);
        for (; i < T; i++) m[i] = MathF.Exp(cum[i] - cum[j]) * cbT[i] * dtj;
        new Span<float>(m, j).Clear();
        m[j] += dh;
    }

    /// <summary>
    /// Row i (length T) of the backward's lower-triangular matrices, zeros past the diagonal: with dec_j =
    /// exp(cum_i − cum_j), e[j] = dec_j·cb[j] (E = (C·Bᵀ)∘decay) and w[j] = dec_j·Δ_j·g[j] (W = decay∘Δ∘G);
    /// direct[j] += e[j]·g[j].
    /// </summary>
    private static void GradientRow(ReadOnlySpan<float> cum, ReadOnlySpan<float> dt, int i, float* cb, float* g, float* e,
        float* w, Span<float> direct)
    {
        int T = cum.Length, V = Vector<float>.Count, j = 0;
        var ci = new Vector<float>(cum[i]);
        var last = new Vector<int>(i);
        for (; j <= i && j + V <= T; j += V)
        {
            // Lanes past the diagonal may hold exp of a positive exponent: select zero there.
            var keep = Vector.LessThanOrEqual(Vector<int>.Indices + new Vector<int>(j), last);
            var dec = Vector.ConditionalSelect(keep.As<int, float>(), Vector.Exp(ci - new Vector<float>(cum[j..])), Vector<float>.Zero);
            var gv = Vector.Load(g + j);
            var ev = dec * Vector.Load(cb + j);
            Vector.Store(ev, e + j);
            Vector.Store(dec * new Vector<float>(dt[j..]) * gv, w + j);
            Vector.FusedMultiplyAdd(ev, gv, new Vector<float>(direct[j..])).CopyTo(direct[j..]);
        }
        for (; j <= i; j++)
        {
            float dec = MathF.Exp(cum[i] - cum[j]);
            e[j] = dec * cb[j];
            w[j] = dec * dt[j] * g[j];
            direct[j] += e[j] * g[j];
        }
        new Span<float>(e + j, T - j).Clear();
        new Span<float>(w + j, T - j).Clear();
    }

    /// <summary>Copies this head's cum and Δ of the chunk into contiguous rows.</summary>
    private static void HeadRows(SsdDims d, float[] cum, float[] dts, int dto, int b, int h, int c, Span<float> cumRow, Span<float> dtRow)
    {
        int t0 = c * d.Chunk;
        cum.AsSpan(d.Cum(b, h, c), cumRow.Length).CopyTo(cumRow);
        for (int j = 0; j < dtRow.Length; j++) dtRow[j] = dts[dto + d.Dt(b, t0 + j, h)];
    }

    /// <summary>dst[k·rows + i] = src[i·stride + k] for a rows × cols block of strided rows.</summary>
    private static void TransposeRows(float* src, int stride, int rows, int cols, float* dst)
    {
        for (int i = 0; i < rows; i++)
        for (int k = 0; k < cols; k++) dst[k * rows + i] = src[(long)i * stride + k];
    }

    /// <summary>
    /// Per (batch, group, chunk), with the chunk's Cᵀ and (C·Bᵀ)ᵀ shared by the group's heads, per head:
    /// y = diag(exp(cum)) C Hᵀ + M X with M_ij = exp(cum_i − cum_j) (C_i·B_j) Δ_j (j ≤ i) + D δ_ij, as two products.
    /// </summary>
    private static void ChunkOutputs(SsdDims d, Tensor x, Tensor dt, Tensor B, Tensor C, Tensor? D, float[] cum, float[] states, Tensor y)
    {
        float[] xs = x.Data, dts = dt.Data, Bs = B.Data, Cs = C.Data, ys = y.Data;
        int xo = x.Offset, dto = dt.Offset, bo = B.Offset, co = C.Offset, yo = y.Offset;
        int P = d.HeadDim, N = d.State, rowX = d.Heads * P, rowBC = d.Groups * N;
        CpuParallel.Each(d.Batch * d.Groups * d.Chunks, item =>
        {
            int c = item % d.Chunks, bg = item / d.Chunks, g = bg % d.Groups, b = bg / d.Groups;
            int t0 = c * d.Chunk, T = d.ChunkLength(c), TT = T * T;
            var buf = ArrayPool<float>.Shared.Rent(2 * TT + N * T + 2 * T);
            var cumRow = buf.AsSpan(2 * TT + N * T, T);
            var dtRow = buf.AsSpan(2 * TT + N * T + T, T);
            fixed (float* pb = buf, px = xs, pB = Bs, pC = Cs, py = ys, ps = states)
            {
                float* cbT = pb, mT = pb + TT, cT = pb + 2 * TT;
                float* Bc = pB + bo + d.BC(b, t0, g), Cc = pC + co + d.BC(b, t0, g);
                TransposeRows(Cc, rowBC, T, N, cT);
                SmallGemm.Multiply(T, T, N, new Strided(Bc, rowBC), new Strided(cT, T), cbT, T, accumulate: false); // cbT[j, i] = B_j·C_i
                for (int h = g * d.HeadsPerGroup; h < (g + 1) * d.HeadsPerGroup; h++)
                {
                    HeadRows(d, cum, dts, dto, b, h, c, cumRow, dtRow);
                    float* yc = py + yo + d.X(b, t0, h), xc = px + xo + d.X(b, t0, h);
                    float dh = D is null ? 0f : D.Data[D.Offset + h];
                    for (int j = 0; j < T; j++) OutputRow(cumRow, j, dtRow[j], dh, cbT + j * T, mT + j * T);
                    SmallGemm.Multiply(T, P, N, new Strided(cT, 1, T), new Strided(ps + d.ChunkState(b, h, c), N).T, yc, rowX,
                        accumulate: false);
                    for (int i = 0; i < T; i++)
                    {
                        var yi = new Span<float>(yc + (long)i * rowX, P);
                        TensorPrimitives.Multiply(yi, MathF.Exp(cumRow[i]), yi);
                    }
                    SmallGemm.Multiply(T, P, T, new Strided(mT, 1, T), new Strided(xc, rowX), yc, rowX, accumulate: true,
                        ZeroSide.AboveDiagonal);
                }
            }
            ArrayPool<float>.Shared.Return(buf);
        });
    }

    /// <summary>
    /// Per (batch, group, chunk), per head, with G = gy·xᵀ, E = (C·Bᵀ)∘decay and W = decay∘Δ∘G (lower triangles):
    /// dC += W B + diag(exp(cum)) gy H, dx = Δ∘(Eᵀ gy + s∘(B dSᵀ)) + D gy, dB += Wᵀ C + (Δ∘s∘x) dS (s_j =
    /// exp(cumT − cum_j)) as small products; the dΔ/dA terms from row and column sums.
    /// </summary>
    private static void ChunkGradients(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor gy,
        float[] cum, float[] states, float[] dStates, float[] pass, float[] partials, SsdScanGradients grads)
    {
        float[] xs = x.Data, dts = dt.Data, Bs = B.Data, Cs = C.Data, gys = gy.Data;
        int xo = x.Offset, dto = dt.Offset, bo = B.Offset, co = C.Offset, gyo = gy.Offset;
        float[] dxs = grads.Dx.Data, ddts = grads.Ddt.Data, dBs = grads.DB.Data, dCs = grads.DC.Data;
        int dxo = grads.Dx.Offset, ddto = grads.Ddt.Offset, dBo = grads.DB.Offset, dCo = grads.DC.Offset;
        int P = d.HeadDim, N = d.State, rowX = d.Heads * P, rowBC = d.Groups * N, per = d.Batch * d.Heads * d.Chunks;
        CpuParallel.Each(d.Batch * d.Groups * d.Chunks, item =>
        {
            int c = item % d.Chunks, bg = item / d.Chunks, g = bg % d.Groups, b = bg / d.Groups;
            int t0 = c * d.Chunk, T = d.ChunkLength(c), TT = T * T;
            int matrices = 4 * TT + 2 * N * T + 2 * P * T;
            var buf = ArrayPool<float>.Shared.Rent(matrices + 7 * T);
            var vectors = buf.AsSpan(matrices, 7 * T);
            Span<float> sums = vectors[..T], dA = vectors.Slice(T, T), offTerm = vectors.Slice(2 * T, T),
                stateTerm = vectors.Slice(3 * T, T), cumRow = vectors.Slice(4 * T, T), dtRow = vectors.Slice(5 * T, T),
                direct = vectors.Slice(6 * T, T);
            fixed (float* pb = buf, px = xs, pB = Bs, pC = Cs, pgy = gys, pdx = dxs, pdB = dBs, pdC = dCs, ps = states, pdS = dStates)
            {
                float* cb = pb, G = cb + TT, E = G + TT, W = E + TT, bT = W + TT, hN = bT + N * T, R = hN + N * T, xw = R + P * T;
                float* Bc = pB + bo + d.BC(b, t0, g), Cc = pC + co + d.BC(b, t0, g);
                float* dBc = pdB + dBo + d.BC(b, t0, g), dCc = pdC + dCo + d.BC(b, t0, g);
                TransposeRows(Bc, rowBC, T, N, bT);
                SmallGemm.Multiply(T, T, N, new Strided(Cc, rowBC), new Strided(bT, T), cb, T, accumulate: false); // C_i·B_j
                for (int t = 0; t < T; t++)
                {
                    new Span<float>(dBc + (long)t * rowBC, N).Clear();
                    new Span<float>(dCc + (long)t * rowBC, N).Clear();
                }
                for (int h = g * d.HeadsPerGroup; h < (g + 1) * d.HeadsPerGroup; h++)
                {
                    int so = d.ChunkState(b, h, c), bh = b * d.Heads + h;
                    float ah = a.Data[a.Offset + h], dh = D is null ? 0f : D.Data[D.Offset + h];
                    HeadRows(d, cum, dts, dto, b, h, c, cumRow, dtRow);
                    float cumT = cumRow[T - 1];
                    float* xc = px + xo + d.X(b, t0, h), gyc = pgy + gyo + d.X(b, t0, h), dxc = pdx + dxo + d.X(b, t0, h);
                    float* H = ps + so, dS = pdS + so;
                    SmallGemm.Multiply(T, T, P, new Strided(gyc, rowX), new Strided(xc, rowX).T, G, T, accumulate: false);

                    // Rows i of E and W (zeros above the diagonal) and the column sums Σ_i E_ij G_ij (direct part of dΔ_j).
                    direct.Clear();
                    for (int i = 0; i < T; i++) GradientRow(cumRow, dtRow, i, cb + i * T, G + i * T, E + i * T, W + i * T, direct);

                    // Diagonal-block part of dA_m = Σ_{i≥m} Σ_{j<m} (C_i·B_j) W_ij: sums[j] runs over rows i ≥ m.
                    dA.Clear();
                    sums.Clear();
                    for (int m = T - 1; m >= 1; m--)
                    {
                        TensorPrimitives.FusedMultiplyAdd(new ReadOnlySpan<float>(cb + m * T, m), new ReadOnlySpan<float>(W + m * T, m),
                            sums[..m], sums[..m]);
                        dA[m] = TensorPrimitives.Sum(sums[..m]);
                    }

                    // dC += W B + diag(exp(cum)) gy H; the state → output part of dA.
                    SmallGemm.Multiply(T, N, T, new Strided(W, T), new Strided(Bc, rowBC), dCc, rowBC, accumulate: true,
                        ZeroSide.AboveDiagonal);
                    SmallGemm.Multiply(T, N, P, new Strided(gyc, rowX), new Strided(H, N), hN, N, accumulate: false); // rows H_cᵀ gy_i
                    for (int i = 0; i < T; i++)
                    {
                        float e = MathF.Exp(cumRow[i]);
                        var hi = new ReadOnlySpan<float>(hN + i * N, N);
                        var dCi = new Span<float>(dCc + (long)i * rowBC, N);
                        offTerm[i] = e * TensorPrimitives.Dot(hi, new ReadOnlySpan<float>(Cc + (long)i * rowBC, N));
                        TensorPrimitives.MultiplyAdd(hi, e, dCi, dCi);
                    }

                    // dx = Δ∘(Eᵀ gy + s∘(B dSᵀ)) + D gy; dΔ_j = direct_j + s_j x_j·(dS B_j); xw_j = Δ_j s_j x_j.
                    SmallGemm.Multiply(T, P, T, new Strided(E, 1, T), new Strided(gyc, rowX), dxc, rowX, accumulate: false,
                        ZeroSide.BelowDiagonal);
                    SmallGemm.Multiply(T, P, N, new Strided(bT, 1, T), new Strided(dS, N).T, R, P, accumulate: false);
                    for (int j = 0; j < T; j++)
                    {
                        float dtj = dtRow[j], s = MathF.Exp(cumT - cumRow[j]);
                        var xj = new ReadOnlySpan<float>(xc + (long)j * rowX, P);
                        var rj = new ReadOnlySpan<float>(R + j * P, P);
                        var dxj = new Span<float>(dxc + (long)j * rowX, P);
                        float u = TensorPrimitives.Dot(xj, rj);
                        TensorPrimitives.MultiplyAdd(rj, s, dxj, dxj);
                        TensorPrimitives.Multiply(dxj, dtj, dxj);
                        if (D is not null) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(gyc + (long)j * rowX, P), dh, dxj, dxj);
                        TensorPrimitives.Multiply(xj, dtj * s, new Span<float>(xw + j * P, P));
                        stateTerm[j] = dtj * s * u;
                        ddts[ddto + d.Dt(b, t0 + j, h)] = direct[j] + s * u;
                    }

                    // dB += Wᵀ C + xw dS.
                    SmallGemm.Multiply(T, N, T, new Strided(W, 1, T), new Strided(Cc, rowBC), dBc, rowBC, accumulate: true,
                        ZeroSide.BelowDiagonal);
                    SmallGemm.Multiply(T, N, P, new Strided(xw, P), new Strided(dS, N), dBc, rowBC, accumulate: true);

                    // dA_m, then dΔ_m += a·dA_m and the per-chunk partial sums of da and dD.
                    float pas = pass[bh * d.Chunks + c], suffix = 0, prefix = 0, daSum = 0, dDSum = 0;
                    for (int m = T - 1; m >= 0; m--)
                    {
                        suffix += offTerm[m];
                        dA[m] += suffix + pas;
                    }
                    for (int m = 0; m < T; m++)
                    {
                        dA[m] += prefix;
                        prefix += stateTerm[m];
                        ddts[ddto + d.Dt(b, t0 + m, h)] += ah * dA[m];
                        daSum += dtRow[m] * dA[m];
                        dDSum += G[m * T + m];
                    }
                    partials[bh * d.Chunks + c] = daSum;
                    partials[per + bh * d.Chunks + c] = dDSum;
                }
            }
            ArrayPool<float>.Shared.Return(buf);
        });
    }
}
