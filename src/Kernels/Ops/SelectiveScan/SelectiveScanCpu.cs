using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="SelectiveScan"/>, vectorized over channels: one Vector256 holds 8 channels
/// of one batch element, so each step is, per state index k, α = exp(Δ·A[:, k]) (vector exp), h_k = α h_k + Δu·B_t[k],
/// y += C_t[k]·h_k. Parallel over (batch, block of 8 channels). Backward (reverse time), with g_k the adjoint of h_k:
/// <code>
///   ŷ = dout·SiLU(z) (dz = dout·y·SiLU′(z)),  g_k += ŷ C_t[k],  dC_t[k] += Σ_d ŷ h_t,k,  dB_t[k] += Σ_d g_k Δu,
///   du = Δ Σ_k g_k B_t[k] + D ŷ,  dΔ = u Σ_k g_k B_t[k] + Σ_k g_k h_{t−1},k α_k A_k,  dA_k += g_k h_{t−1},k α_k Δ,
///   g_k ← α_k g_k
/// </code>
/// States inside a segment of <see cref="Segment"/> steps are recomputed from a checkpoint at its start; dB/dC sums
/// over channels go to per-(batch, channel range) partial rows that are added up at the end.
/// </summary>
internal static class SelectiveScanCpu
{
    private const int W = 8; // channels per Vector256<float>
    internal const int Segment = 64;

    public static void Forward(ScanDims s, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? h0, Tensor y, Tensor final)
    {
        int blocks = (s.Channels + W - 1) / W, N = s.State;
        CpuParallel.Each(s.Batch * blocks, item =>
        {
            int b = item / blocks, d0 = item % blocks * W, lanes = Math.Min(W, s.Channels - d0);
            var At = new Vector256<float>[N];
            var h = new Vector256<float>[N];
            var Dv = LoadParams(A, D, h0, b, d0, lanes, s, At, h);
            for (int t = 0; t < s.Length; t++)
            {
                int o = s.U(b, t, d0), bo = s.BC(b, t);
                var dt = Load(delta, o, lanes);
                var uu = Load(u, o, lanes);
                var du = dt * uu;
                var acc = Dv * uu;
                for (int k = 0; k < N; k++)
                {
                    h[k] = Vector256.MultiplyAddEstimate(Vector256.Exp(dt * At[k]), h[k], du * B.Data[B.Offset + bo + k]);
                    acc = Vector256.MultiplyAddEstimate(h[k], Vector256.Create(C.Data[C.Offset + bo + k]), acc);
                }
                if (z is not null) acc *= Silu(Load(z, o, lanes));
                Store(acc, y, o, lanes);
            }
            for (int k = 0; k < N; k++) Scatter(h[k], final, s.StateAt(b, d0) + k, N, lanes);
        });
    }

    public static void Backward(ScanDims s, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? h0, Tensor? dy, Tensor? dFinal, SelectiveScanGradients g)
    {
        int N = s.State, L = s.Length, blocks = (s.Channels + W - 1) / W;
        int ranges = Math.Max(1, Math.Min(blocks, 2 * CpuDevice.Threads)), segments = (L + Segment - 1) / Segment;
        using var partialB = Tensor.Zeros(new[] { s.Batch, ranges, L, N }, DType.Float32, Device.Cpu);
        using var partialC = Tensor.Zeros(new[] { s.Batch, ranges, L, N }, DType.Float32, Device.Cpu);
        using var partialA = Tensor.Empty(new[] { s.Batch, s.Channels, N }, DType.Float32, Device.Cpu);
        using var partialD = Tensor.Empty(new[] { s.Batch, s.Channels }, DType.Float32, Device.Cpu);
        float[] pB = partialB.Data, pC = partialC.Data, Bs = B.Data, Cs = C.Data;
        int bOff = B.Offset, cOff = C.Offset;
        CpuParallel.Each(s.Batch * ranges, item =>
        {
            // One item: a batch element and a range of 8-channel blocks, processed segment by segment in reverse,
            // every block of the range per segment, so the dB/dC sums over channels stay in vectors until the
            // segment is done.
            int b = item / ranges, r = item % ranges, rowBase = (b * ranges + r) * L * N;
            int first = r * blocks / ranges, count = (r + 1) * blocks / ranges - first;
            var At = new Vector256<float>[count * N];
            var Dv = new Vector256<float>[count];
            var gh = new Vector256<float>[count * N];
            var dA = new Vector256<float>[count * N];
            var dD = new Vector256<float>[count];
            var checkpoints = new Vector256<float>[count * Math.Max(segments, 1) * N];
            var hs = new Vector256<float>[Segment * N];     // state before each step of the segment
            var alphas = new Vector256<float>[Segment * N]; // exp(Δ A) of each step
            var vB = new Vector256<float>[Segment * N];
            var vC = new Vector256<float>[Segment * N];
            for (int q = 0; q < count; q++)
            {
                int d0 = (first + q) * W, lanes = Math.Min(W, s.Channels - d0), cq = q * Math.Max(segments, 1) * N;
                var at = At.AsSpan(q * N, N);
                Dv[q] = LoadParams(A, D, h0, b, d0, lanes, s, at, checkpoints.AsSpan(cq, N));
                for (int seg = 1; seg < segments; seg++)
                {
                    var cur = checkpoints.AsSpan(cq + seg * N, N);
                    checkpoints.AsSpan(cq + (seg - 1) * N, N).CopyTo(cur);
                    StepSegment(s, u, delta, Bs, bOff, at, b, d0, lanes, (seg - 1) * Segment, Segment, cur);
                }
                for (int k = 0; k < N; k++) gh[q * N + k] = dFinal is null ? Vector256<float>.Zero : Gather(dFinal, s.StateAt(b, d0) + k, N, lanes);
            }
            for (int seg = segments - 1; seg >= 0; seg--)
            {
                int t0 = seg * Segment, T = Math.Min(Segment, L - t0);
                Array.Clear(vB);
                Array.Clear(vC);
                for (int q = 0; q < count; q++)
                {
                    int d0 = (first + q) * W, lanes = Math.Min(W, s.Channels - d0);
                    var at = At.AsSpan(q * N, N);
                    var adj = gh.AsSpan(q * N, N);
                    var da = dA.AsSpan(q * N, N);
                    checkpoints.AsSpan((q * segments + seg) * N, N).CopyTo(hs);
                    for (int t = 0; t < T; t++)
                    {
                        int o = s.U(b, t0 + t, d0), bo = s.BC(b, t0 + t);
                        var dt = Load(delta, o, lanes);
                        var du = dt * Load(u, o, lanes);
                        for (int k = 0; k < N; k++)
                        {
                            var alpha = Vector256.Exp(dt * at[k]);
                            alphas[t * N + k] = alpha;
                            if (t + 1 < T) hs[(t + 1) * N + k] = Vector256.MultiplyAddEstimate(alpha, hs[t * N + k], du * Bs[bOff + bo + k]);
                        }
                    }
                    for (int t = T - 1; t >= 0; t--)
                    {
                        int o = s.U(b, t0 + t, d0), bo = s.BC(b, t0 + t);
                        var dt = Load(delta, o, lanes);
                        var uu = Load(u, o, lanes);
                        var du = dt * uu;
                        var dout = dy is null ? Vector256<float>.Zero : Load(dy, o, lanes);
                        var zz = z is null ? Vector256<float>.Zero : Load(z, o, lanes);
                        var sig = Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-zz));
                        var yHat = z is null ? dout : dout * zz * sig;
                        var yv = Dv[q] * uu;
                        var dDu = Vector256<float>.Zero;
                        var dDelta = Vector256<float>.Zero;
                        for (int k = 0; k < N; k++)
                        {
                            float bk = Bs[bOff + bo + k];
                            var ck = Vector256.Create(Cs[cOff + bo + k]);
                            var alpha = alphas[t * N + k];
                            var hPrev = hs[t * N + k];
                            var hk = Vector256.MultiplyAddEstimate(alpha, hPrev, du * bk);
                            var gk = Vector256.MultiplyAddEstimate(yHat, ck, adj[k]);
                            yv = Vector256.MultiplyAddEstimate(hk, ck, yv);
                            vC[t * N + k] = Vector256.MultiplyAddEstimate(yHat, hk, vC[t * N + k]);
                            vB[t * N + k] = Vector256.MultiplyAddEstimate(gk, du, vB[t * N + k]);
                            dDu = Vector256.MultiplyAddEstimate(gk, Vector256.Create(bk), dDu);
                            var dAlpha = gk * hPrev * alpha;
                            dDelta = Vector256.MultiplyAddEstimate(dAlpha, at[k], dDelta);
                            da[k] = Vector256.MultiplyAddEstimate(dAlpha, dt, da[k]);
                            adj[k] = gk * alpha;
                        }
                        if (z is not null) Store(dout * yv * sig * (Vector256<float>.One + zz * (Vector256<float>.One - sig)), g.Dz!, o, lanes);
                        Store(Vector256.MultiplyAddEstimate(dt, dDu, Dv[q] * yHat), g.Du, o, lanes);
                        Store(Vector256.MultiplyAddEstimate(uu, dDu, dDelta), g.Ddelta, o, lanes);
                        dD[q] = Vector256.MultiplyAddEstimate(yHat, uu, dD[q]);
                    }
                }
                for (int e = 0; e < T * N; e++)
                {
                    pB[rowBase + t0 * N + e] = Vector256.Sum(vB[e]);
                    pC[rowBase + t0 * N + e] = Vector256.Sum(vC[e]);
                }
            }
            for (int q = 0; q < count; q++)
            {
                int d0 = (first + q) * W, lanes = Math.Min(W, s.Channels - d0);
                for (int k = 0; k < N; k++)
                {
                    Scatter(dA[q * N + k], partialA, s.StateAt(b, d0) + k, N, lanes);
                    if (g.DInitialState is not null) Scatter(gh[q * N + k], g.DInitialState, s.StateAt(b, d0) + k, N, lanes);
                }
                Store(dD[q], partialD, b * s.Channels + d0, lanes);
            }
        });

        // Add up the partial sums: dB, dC over channel ranges; dA, dD over the batch.
        float[] dB = g.DB.Data, dC = g.DC.Data;
        int dBo = g.DB.Offset, dCo = g.DC.Offset;
        CpuParallel.For(s.Batch * L * N, 4096, (lo, hi) =>
        {
            for (int i = lo; i < hi; i++)
            {
                int b = i / (L * N), rest = i % (L * N);
                float sb = 0, sc = 0;
                for (int r = 0; r < ranges; r++)
                {
                    sb += pB[(b * ranges + r) * L * N + rest];
                    sc += pC[(b * ranges + r) * L * N + rest];
                }
                dB[dBo + i] = sb;
                dC[dCo + i] = sc;
            }
        });
        SumOverBatch(partialA.Data, s.Batch, g.DA.Span);
        if (g.DD is not null) SumOverBatch(partialD.Data, s.Batch, g.DD.Span);
    }

    /// <summary>Advances the 8-channel state <paramref name="h"/> by <paramref name="steps"/> steps from step <paramref name="t0"/>.</summary>
    private static void StepSegment(ScanDims s, Tensor u, Tensor delta, float[] Bs, int bOff, ReadOnlySpan<Vector256<float>> At,
        int b, int d0, int lanes, int t0, int steps, Span<Vector256<float>> h)
    {
        for (int t = t0; t < t0 + steps; t++)
        {
            int o = s.U(b, t, d0), bo = s.BC(b, t);
            var dt = Load(delta, o, lanes);
            var du = dt * Load(u, o, lanes);
            for (int k = 0; k < h.Length; k++)
                h[k] = Vector256.MultiplyAddEstimate(Vector256.Exp(dt * At[k]), h[k], du * Bs[bOff + bo + k]);
        }
    }

    /// <summary>Loads A[d0.., k] into <paramref name="At"/>, the initial state into <paramref name="h"/>, and returns D[d0..].</summary>
    private static Vector256<float> LoadParams(Tensor A, Tensor? D, Tensor? h0, int b, int d0, int lanes, ScanDims s,
        Span<Vector256<float>> At, Span<Vector256<float>> h)
    {
        int N = s.State;
        for (int k = 0; k < N; k++)
        {
            At[k] = Gather(A, d0 * N + k, N, lanes);
            h[k] = h0 is null ? Vector256<float>.Zero : Gather(h0, s.StateAt(b, d0) + k, N, lanes);
        }
        return D is null ? Vector256<float>.Zero : Load(D, d0, lanes);
    }

    private static Vector256<float> Silu(Vector256<float> z) => z / (Vector256<float>.One + Vector256.Exp(-z));

    private static void SumOverBatch(float[] partial, int batch, Span<float> dst)
    {
        for (int i = 0; i < dst.Length; i++)
        {
            float acc = 0;
            for (int b = 0; b < batch; b++) acc += partial[b * dst.Length + i];
            dst[i] = acc;
        }
    }

    // ---- lanes: 8 consecutive channels, zero-padded past the last channel ---------------------------------------

    private static Vector256<float> Load(Tensor t, int offset, int lanes)
    {
        if (lanes == W) return Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(t.Data), (nuint)(t.Offset + offset));
        Span<float> tmp = stackalloc float[W];
        tmp.Clear();
        t.Data.AsSpan(t.Offset + offset, lanes).CopyTo(tmp);
        return Vector256.Create<float>(tmp);
    }

    private static void Store(Vector256<float> v, Tensor t, int offset, int lanes)
    {
        if (lanes == W)
        {
            v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(t.Data), (nuint)(t.Offset + offset));
            return;
        }
        Span<float> tmp = stackalloc float[W];
        v.CopyTo(tmp);
        tmp[..lanes].CopyTo(t.Data.AsSpan(t.Offset + offset, lanes));
    }

    /// <summary>Lanes t[offset + l·stride], l &lt; lanes.</summary>
    private static Vector256<float> Gather(Tensor t, int offset, int stride, int lanes)
    {
        Span<float> tmp = stackalloc float[W];
        tmp.Clear();
        for (int l = 0; l < lanes; l++) tmp[l] = t.Data[t.Offset + offset + l * stride];
        return Vector256.Create<float>(tmp);
    }

    private static void Scatter(Vector256<float> v, Tensor t, int offset, int stride, int lanes)
    {
        for (int l = 0; l < lanes; l++) t.Data[t.Offset + offset + l * stride] = v[l];
    }
}
