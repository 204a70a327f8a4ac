using System.Buffers;
using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
internal static class SsdScanCpu
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
    /// (B or C); w_j = exp(cumT − cum_j) Δ_j (the chunk state) or exp(cum_j) (the state gradient of the outputs).
    /// </summary>
    private static void ChunkSums(SsdDims d, Tensor u, Tensor v, Tensor dt, float[] cum, bool decayToEnd, float[] dst)
    {
        float[] us = u.Data, vs = v.Data, dts = dt.Data;
        int uo = u.Offset, vo = v.Offset, dto = dt.Offset, P = d.HeadDim, N = d.State;
        CpuParallel.Each(d.Batch * d.Heads * d.Chunks, item =>
        {
            int c = item % d.Chunks, bh = item / d.Chunks, h = bh % d.Heads, b = bh / d.Heads, g = h / d.HeadsPerGroup;
            int t0 = c * d.Chunk, T = d.ChunkLength(c), co = d.Cum(b, h, c), so = d.ChunkState(b, h, c);
            var buf = ArrayPool<float>.Shared.Rent(2 * T);
            var w = buf.AsSpan(0, T);
            var coef = buf.AsSpan(T, T);
            float cumT = cum[co + T - 1];
            for (int j = 0; j < T; j++)
                w[j] = decayToEnd ? MathF.Exp(cumT - cum[co + j]) * dts[dto + d.Dt(b, t0 + j, h)] : MathF.Exp(cum[co + j]);
            for (int p = 0; p < P; p++)
            {
                for (int j = 0; j < T; j++) coef[j] = w[j] * us[uo + d.X(b, t0 + j, h) + p];
                var row = dst.AsSpan(so + p * N, N);
                row.Clear();
                AccumulateRows(row, vs, vo + d.BC(b, t0, g), d.Groups * N, coef);
            }
            ArrayPool<float>.Shared.Return(buf);
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
                    var S = states.AsSpan(d.ChunkState(b, h, c), pn);
                    for (int k = 0; k < pn; k++)
                    {
                        float own = S[k];
                        S[k] = H[k];
                        H[k] = decay * H[k] + own;
                    }
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
                    var L = dStates.AsSpan(so, pn);
                    for (int k = 0; k < pn; k++)
                    {
                        float local = L[k];
                        L[k] = dH[k];
                        dH[k] = decay * dH[k] + local;
                    }
                }
                if (dInitial is not null) dH.CopyTo(dInitial.Data.AsSpan(dInitial.Offset + d.State0(b, h), pn));
            }
        });
    }

    /// <summary>
    /// Lower triangle of a chunk's Gram matrix, row-major T × T: gram[i·T + j] = left_i·right_j for j ≤ i, where row k of
    /// left/right (width E) starts at offset + k·stride. The right rows are transposed into <paramref name="buf"/> at
    /// <paramref name="scratch"/> (E × T) so that each output row is one vectorized row product.
    /// </summary>
    private static void LowerGram(float[] left, int leftOffset, float[] right, int rightOffset, int stride, int T, int E,
        float[] buf, int scratch, Span<float> gram)
    {
        for (int k = 0; k < T; k++)
        for (int e = 0; e < E; e++) buf[scratch + e * T + k] = right[rightOffset + k * stride + e];
        for (int i = 0; i < T; i++)
        {
            var row = gram.Slice(i * T, i + 1);
            row.Clear();
            AccumulateRows(row, buf, scratch, T, new ReadOnlySpan<float>(left, leftOffset + i * stride, E));
        }
    }

    /// <summary>row[j] = exp(cum[i] − cum[j]) for j ≤ i (never a positive exponent: a ≤ 0, Δ ≥ 0).</summary>
    private static void DecayRow(ReadOnlySpan<float> cum, int i, Span<float> row)
    {
        TensorPrimitives.Subtract(cum[i], cum[..(i + 1)], row[..(i + 1)]);
        TensorPrimitives.Exp(row[..(i + 1)], row[..(i + 1)]);
    }

    /// <summary>Copies this head's cum and Δ of the chunk into contiguous rows.</summary>
    private static void HeadRows(SsdDims d, float[] cum, float[] dts, int dto, int b, int h, int c, Span<float> cumRow, Span<float> dtRow)
    {
        int t0 = c * d.Chunk;
        cum.AsSpan(d.Cum(b, h, c), cumRow.Length).CopyTo(cumRow);
        for (int j = 0; j < dtRow.Length; j++) dtRow[j] = dts[dto + d.Dt(b, t0 + j, h)];
    }

    private static void ChunkOutputs(SsdDims d, Tensor x, Tensor dt, Tensor B, Tensor C, Tensor? D, float[] cum, float[] states, Tensor y)
    {
        float[] xs = x.Data, dts = dt.Data, Bs = B.Data, Cs = C.Data, ys = y.Data;
        int xo = x.Offset, dto = dt.Offset, bo = B.Offset, co = C.Offset, yo = y.Offset;
        int P = d.HeadDim, N = d.State, rowX = d.Heads * P, rowBC = d.Groups * N;
        CpuParallel.Each(d.Batch * d.Groups * d.Chunks, item =>
        {
            int c = item % d.Chunks, bg = item / d.Chunks, g = bg % d.Groups, b = bg / d.Groups;
            int t0 = c * d.Chunk, T = d.ChunkLength(c), TT = T * T, htOff = TT + 3 * T + N;
            var buf = ArrayPool<float>.Shared.Rent(htOff + Math.Max(N * P, N * T));
            var cb = buf.AsSpan(0, TT);
            var coef = buf.AsSpan(TT, T);
            var cumRow = buf.AsSpan(TT + T, T);
            var dtRow = buf.AsSpan(TT + 2 * T, T);
            var cN = buf.AsSpan(TT + 3 * T, N);
            var Ht = buf.AsSpan(htOff, N * P);
            LowerGram(Cs, co + d.BC(b, t0, g), Bs, bo + d.BC(b, t0, g), rowBC, T, N, buf, htOff, cb);
            for (int h = g * d.HeadsPerGroup; h < (g + 1) * d.HeadsPerGroup; h++)
            {
                HeadRows(d, cum, dts, dto, b, h, c, cumRow, dtRow);
                Transpose(states.AsSpan(d.ChunkState(b, h, c), P * N), P, N, Ht);
                float dh = D is null ? 0f : D.Data[D.Offset + h];
                for (int i = 0; i < T; i++)
                {
                    var m = coef[..(i + 1)];
                    DecayRow(cumRow, i, m);
                    TensorPrimitives.Multiply(m, cb.Slice(i * T, i + 1), m);
                    TensorPrimitives.Multiply(m, dtRow[..(i + 1)], m);
                    var yi = ys.AsSpan(yo + d.X(b, t0 + i, h), P);
                    TensorPrimitives.Multiply(xs.AsSpan(xo + d.X(b, t0 + i, h), P), dh, yi);
                    AccumulateRows(yi, xs, xo + d.X(b, t0, h), rowX, m);
                    TensorPrimitives.Multiply(Cs.AsSpan(co + d.BC(b, t0 + i, g), N), MathF.Exp(cumRow[i]), cN);
                    AccumulateRows(yi, buf, htOff, P, cN);
                }
            }
            ArrayPool<float>.Shared.Return(buf);
        });
    }

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
            int t0 = c * d.Chunk, T = d.ChunkLength(c), TT = T * T, W = Math.Max(P, N);
            int dStOff = 3 * TT + 6 * T + 2 * W;
            var buf = ArrayPool<float>.Shared.Rent(dStOff + Math.Max(N * P, W * T));
            var cb = buf.AsSpan(0, TT);
            var gram = buf.AsSpan(TT, TT);        // G_ij = gy_i·x_j
            var decay = buf.AsSpan(2 * TT, TT);   // exp(cum_i − cum_j)
            var vec = buf.AsSpan(3 * TT, T);
            var dA = buf.AsSpan(3 * TT + T, T);
            var offTerm = buf.AsSpan(3 * TT + 2 * T, T);
            var stateTerm = buf.AsSpan(3 * TT + 3 * T, T);
            var cumRow = buf.AsSpan(3 * TT + 4 * T, T);
            var dtRow = buf.AsSpan(3 * TT + 5 * T, T);
            var tmp = buf.AsSpan(3 * TT + 6 * T, W);
            var tmp2 = buf.AsSpan(3 * TT + 6 * T + W, W);
            var dSt = buf.AsSpan(dStOff, N * P);  // also the transpose scratch of the Gram matrices

            LowerGram(Cs, co + d.BC(b, t0, g), Bs, bo + d.BC(b, t0, g), rowBC, T, N, buf, dStOff, cb);
            for (int t = t0; t < t0 + T; t++)
            {
                dBs.AsSpan(dBo + d.BC(b, t, g), N).Clear();
                dCs.AsSpan(dCo + d.BC(b, t, g), N).Clear();
            }
            for (int h = g * d.HeadsPerGroup; h < (g + 1) * d.HeadsPerGroup; h++)
            {
                int so = d.ChunkState(b, h, c), bh = b * d.Heads + h;
                float ah = a.Data[a.Offset + h], dh = D is null ? 0f : D.Data[D.Offset + h];
                HeadRows(d, cum, dts, dto, b, h, c, cumRow, dtRow);
                float cumT = cumRow[T - 1];
                LowerGram(gys, gyo + d.X(b, t0, h), xs, xo + d.X(b, t0, h), rowX, T, P, buf, dStOff, gram);
                Transpose(dStates.AsSpan(so, P * N), P, N, dSt);
                for (int i = 0; i < T; i++) DecayRow(cumRow, i, decay.Slice(i * T, i + 1));

                // Rows i: dC_i, the diagonal-block part of dA, and the off-diagonal (state → output) terms.
                dA.Clear();
                for (int i = 0; i < T; i++)
                {
                    var w = vec[..(i + 1)];
                    TensorPrimitives.Multiply(decay.Slice(i * T, i + 1), dtRow[..(i + 1)], w);
                    TensorPrimitives.Multiply(w, gram.Slice(i * T, i + 1), w);
                    var dCi = dCs.AsSpan(dCo + d.BC(b, t0 + i, g), N);
                    AccumulateRows(dCi, Bs, bo + d.BC(b, t0, g), rowBC, w);
                    float run = 0;
                    for (int m = 1; m <= i; m++)
                    {
                        run += cb[i * T + m - 1] * w[m - 1];
                        dA[m] += run;
                    }
                    var hN = tmp[..N];
                    hN.Clear();
                    AccumulateRows(hN, states, so, N, gys.AsSpan(gyo + d.X(b, t0 + i, h), P)); // H_cᵀ gy_i
                    float e = MathF.Exp(cumRow[i]);
                    TensorPrimitives.MultiplyAdd(hN, e, dCi, dCi);
                    offTerm[i] = e * TensorPrimitives.Dot(hN, Cs.AsSpan(co + d.BC(b, t0 + i, g), N));
                }

                // Columns j: dx_j, dB_j and the direct part of dΔ_j.
                for (int j = 0; j < T; j++)
                {
                    float dtj = dtRow[j], s = MathF.Exp(cumT - cumRow[j]);
                    var col = vec[..(T - j)];
                    for (int i = j; i < T; i++) col[i - j] = cb[i * T + j] * decay[i * T + j];
                    float direct = 0;
                    for (int i = j; i < T; i++) direct += col[i - j] * gram[i * T + j];
                    var dxj = dxs.AsSpan(dxo + d.X(b, t0 + j, h), P);
                    dxj.Clear();
                    AccumulateRows(dxj, gys, gyo + d.X(b, t0 + j, h), rowX, col);
                    for (int i = j; i < T; i++) col[i - j] = decay[i * T + j] * dtj * gram[i * T + j];
                    var dBj = dBs.AsSpan(dBo + d.BC(b, t0 + j, g), N);
                    AccumulateRows(dBj, Cs, co + d.BC(b, t0 + j, g), rowBC, col);

                    var xj = xs.AsSpan(xo + d.X(b, t0 + j, h), P);
                    var r = tmp[..P];                      // dS B_j
                    r.Clear();
                    AccumulateRows(r, buf, dStOff, P, Bs.AsSpan(bo + d.BC(b, t0 + j, g), N));
                    float u = TensorPrimitives.Dot(xj, r);
                    TensorPrimitives.MultiplyAdd(r, s, dxj, dxj);
                    TensorPrimitives.Multiply(dxj, dtj, dxj);
                    TensorPrimitives.MultiplyAdd(gys.AsSpan(gyo + d.X(b, t0 + j, h), P), dh, dxj, dxj);
                    var xw = tmp2[..P];
                    TensorPrimitives.Multiply(xj, dtj * s, xw);
                    AccumulateRows(dBj, dStates, so, N, xw);  // Δ_j exp(cumT − cum_j) dSᵀ x_j
                    stateTerm[j] = dtj * s * u;
                    ddts[ddto + d.Dt(b, t0 + j, h)] = direct + s * u;
                }

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
                    dDSum += gram[m * T + m];
                }
                partials[bh * d.Chunks + c] = daSum;
                partials[per + bh * d.Chunks + c] = dDSum;
            }
            ArrayPool<float>.Shared.Return(buf);
        });
    }

    private static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) dst[k * rows + r] = src[r * cols + k];
    }

    /// <summary>
    /// dst[0..w) += Σ_k coef[k]·src[offset + k·stride .. + w): a small dense (coef as a row vector) × (rows of src)
    /// product, vectorized over the row width with the sum over k kept in registers.
    /// </summary>
    internal static void AccumulateRows(Span<float> dst, float[] src, int offset, int stride, ReadOnlySpan<float> coef)
    {
        int w = dst.Length, rows = coef.Length, c = 0;
        if (rows == 0 || w == 0) return;
        Debug.Assert(offset >= 0 && offset + (rows - 1) * stride + w <= src.Length);
        ref float s = ref MemoryMarshal.GetArrayDataReference(src);
        ref float o = ref MemoryMarshal.GetReference(dst);
        int V = Vector256<float>.Count;
        for (; c + 4 * V <= w; c += 4 * V)
        {
            var a0 = Vector256.LoadUnsafe(ref o, (nuint)c);
            var a1 = Vector256.LoadUnsafe(ref o, (nuint)(c + V));
            var a2 = Vector256.LoadUnsafe(ref o, (nuint)(c + 2 * V));
            var a3 = Vector256.LoadUnsafe(ref o, (nuint)(c + 3 * V));
            for (int k = 0; k < rows; k++)
            {
                var f = Vector256.Create(coef[k]);
                nuint at = (nuint)(offset + k * stride + c);
                a0 = Vector256.MultiplyAddEstimate(f, Vector256.LoadUnsafe(ref s, at), a0);
                a1 = Vector256.MultiplyAddEstimate(f, Vector256.LoadUnsafe(ref s, at + (nuint)V), a1);
                a2 = Vector256.MultiplyAddEstimate(f, Vector256.LoadUnsafe(ref s, at + (nuint)(2 * V)), a2);
                a3 = Vector256.MultiplyAddEstimate(f, Vector256.LoadUnsafe(ref s, at + (nuint)(3 * V)), a3);
            }
            a0.StoreUnsafe(ref o, (nuint)c);
            a1.StoreUnsafe(ref o, (nuint)(c + V));
            a2.StoreUnsafe(ref o, (nuint)(c + 2 * V));
            a3.StoreUnsafe(ref o, (nuint)(c + 3 * V));
        }
        for (; c + V <= w; c += V)
        {
            var a0 = Vector256.LoadUnsafe(ref o, (nuint)c);
            for (int k = 0; k < rows; k++)
                a0 = Vector256.MultiplyAddEstimate(Vector256.Create(coef[k]), Vector256.LoadUnsafe(ref s, (nuint)(offset + k * stride + c)), a0);
            a0.StoreUnsafe(ref o, (nuint)c);
        }
        for (; c < w; c++)
        {
            float acc = Unsafe.Add(ref o, c);
            for (int k = 0; k < rows; k++) acc += coef[k] * Unsafe.Add(ref s, offset + k * stride + c);
            Unsafe.Add(ref o, c) = acc;
        }
    }
}
