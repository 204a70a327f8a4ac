using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Norms"/> (math at the top of Norms.cs): rows in parallel, each row and group
/// with TensorPrimitives SIMD; the weight/bias gradients are per-worker partial column sums added at the end.
/// </summary>
internal static class NormsCpu
{
    public static void Forward(NormSpec s, Tensor x, Tensor? z, Tensor? w, Tensor? b, Tensor y, Tensor? mean, Tensor rstd)
    {
        int d = s.D, n = s.GroupSize;
        float[] xa = x.Data, ya = y.Data, ra = rstd.Data;
        int xo = x.Offset, yo = y.Offset, ro = rstd.Offset;
        CpuParallel.For(s.Rows, Math.Max(1, 8192 / d), (r0, r1) =>
        {
            var gate = s.HasZ != 0 ? new float[d] : null;
            for (int r = r0; r < r1; r++)
            {
                ReadOnlySpan<float> src = new(xa, xo + r * d, d);
                var yr = new Span<float>(ya, yo + r * d, d);
                if (gate is not null)
                {
                    var zr = new ReadOnlySpan<float>(z!.Data, z.Offset + r * d, d);
                    Silu(zr, gate);
                    TensorPrimitives.Multiply(src, gate, yr);
                    src = yr;
                }
                for (int g = 0; g < s.Groups; g++)
                {
                    var seg = src.Slice(g * n, n);
                    var dst = yr.Slice(g * n, n);
                    float variance;
                    if (s.Center != 0)
                    {
                        float mu = TensorPrimitives.Sum(seg) / n;
                        TensorPrimitives.Subtract(seg, mu, dst);
                        variance = TensorPrimitives.SumOfSquares<float>(dst) / n;
                        mean!.Data[mean.Offset + r * s.Groups + g] = mu;
                        seg = dst;
                    }
                    else variance = TensorPrimitives.SumOfSquares(seg) / n;
                    float rs = 1f / MathF.Sqrt(variance + s.Eps);
                    ra[ro + r * s.Groups + g] = rs;
                    TensorPrimitives.Multiply(seg, rs, dst);
                }
                if (w is not null && b is not null) TensorPrimitives.FusedMultiplyAdd(yr, w.Span, b.Span, yr);
                else if (w is not null) TensorPrimitives.Multiply(yr, w.Span, yr);
                else if (b is not null) TensorPrimitives.Add(yr, b.Span, yr);
            }
        });
    }

    public static void Backward(NormSpec s, Tensor dy, Tensor x, Tensor? z, Tensor? w, Tensor? mean, Tensor rstd,
        Tensor? dx, Tensor? dz, Tensor? dw, Tensor? db)
    {
        int d = s.D, n = s.GroupSize;
        int parts = Math.Max(1, Math.Min(CpuDevice.Threads, s.Rows / Math.Max(1, 4096 / d)));
        var dwParts = dw is not null ? new float[parts][] : null;
        var dbParts = db is not null ? new float[parts][] : null;
        CpuParallel.Each(parts, p =>
        {
            int r0 = (int)((long)s.Rows * p / parts), r1 = (int)((long)s.Rows * (p + 1) / parts);
            float[] xhat = new float[d], u = new float[d];
            float[]? sig = z is not null ? new float[d] : null, silu = z is not null ? new float[d] : null;
            float[]? pdw = dwParts is not null ? dwParts[p] = new float[d] : null;
            float[]? pdb = dbParts is not null ? dbParts[p] = new float[d] : null;
            for (int r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<float>(x.Data, x.Offset + r * d, d);
                var dyr = new ReadOnlySpan<float>(dy.Data, dy.Offset + r * d, d);
                ReadOnlySpan<float> zr = z is not null ? new(z.Data, z.Offset + r * d, d) : default;
                // x̂ (the gated input g first when there is a gate).
                if (z is not null)
                {
                    TensorPrimitives.Sigmoid(zr, sig);
                    TensorPrimitives.Multiply(zr, sig!, silu);
                    TensorPrimitives.Multiply(xr, silu!, xhat);
                }
                else xr.CopyTo(xhat);
                for (int g = 0; g < s.Groups; g++)
                {
                    var seg = xhat.AsSpan(g * n, n);
                    float mu = s.Center != 0 ? mean!.Data[mean.Offset + r * s.Groups + g] : 0f;
                    if (mu != 0f) TensorPrimitives.Subtract(seg, mu, seg);
                    TensorPrimitives.Multiply(seg, rstd.Data[rstd.Offset + r * s.Groups + g], seg);
                }
                if (pdw is not null) TensorPrimitives.FusedMultiplyAdd(dyr, xhat, pdw, pdw);
                if (pdb is not null) TensorPrimitives.Add(pdb, dyr, pdb);
                if (dx is null) continue;

                // dg = rstd·(u − x̂·mean(x̂ ⊙ u) − mean(u)) per group, written into dx.
                if (w is not null) TensorPrimitives.Multiply(dyr, w.Span, u);
                else dyr.CopyTo(u);
                var dxr = new Span<float>(dx.Data, dx.Offset + r * d, d);
                for (int g = 0; g < s.Groups; g++)
                {
                    var xs = new ReadOnlySpan<float>(xhat, g * n, n);
                    var us = new ReadOnlySpan<float>(u, g * n, n);
                    var outSeg = dxr.Slice(g * n, n);
                    float c1 = TensorPrimitives.Dot(xs, us) / n;
                    float c2 = s.Center != 0 ? TensorPrimitives.Sum(us) / n : 0f;
                    float rs = rstd.Data[rstd.Offset + r * s.Groups + g];
                    TensorPrimitives.MultiplyAdd(xs, -c1, us, outSeg);
                    if (c2 != 0f) TensorPrimitives.Subtract(outSeg, c2, outSeg);
                    TensorPrimitives.Multiply(outSeg, rs, outSeg);
                }
                if (z is not null)
                {
                    // dz = dg ⊙ x ⊙ σ(z)(1 + z(1 − σ(z))),  dx = dg ⊙ SiLU(z).  (u is free now: reuse it.)
                    var dzr = new Span<float>(dz!.Data, dz.Offset + r * d, d);
                    TensorPrimitives.Subtract(1f, sig, u);
                    TensorPrimitives.MultiplyAdd(zr, u, 1f, u);
                    TensorPrimitives.Multiply(u, sig, u);
                    TensorPrimitives.Multiply(u, xr, u);
                    TensorPrimitives.Multiply(dxr, u, dzr);
                    TensorPrimitives.Multiply(dxr, silu, dxr);
                }
            }
        });
        if (dw is not null) SumParts(dwParts!, dw.Span);
        if (db is not null) SumParts(dbParts!, db.Span);
    }

    private static void SumParts(float[][] parts, Span<float> dst)
    {
        foreach (var p in parts) TensorPrimitives.Add(dst, p, dst);
    }

    /// <summary>dst = SiLU(z) = z·σ(z).</summary>
    private static void Silu(ReadOnlySpan<float> z, Span<float> dst)
    {
        TensorPrimitives.Sigmoid(z, dst);
        TensorPrimitives.Multiply(z, dst, dst);
    }
}
