using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementation of <see cref="NeuralMemoryOps"/> (math at the top of NeuralMemoryOps.cs).</summary>
internal static class NeuralMemoryOpsCpu
{
    private const int Chunk = 16384;

    public static void Curvature(int op, Tensor z, Tensor dy, Tensor g, Tensor dz)
    {
        float[] za = z.Data, ya = dy.Data, ga = g.Data, da = dz.Data;
        int zo = z.Offset, yo = dy.Offset, go = g.Offset, dof = dz.Offset;
        CpuParallel.For(z.Length, Chunk, (s, e) =>
        {
            for (int i = s; i < e; i++) da[dof + i] = ga[go + i] * ya[yo + i] * CurvatureMath.SecondDerivative(op, za[zo + i]);
        });
    }

    public static void Update(UpdateSpec spec, Tensor m, Tensor s, Tensor delta, Tensor keep, Tensor carry, Tensor momentumKeep, Tensor m2, Tensor s2)
    {
        int n = spec.Elements;
        float[] ma = m.Data, sa = s.Data, da = delta.Data, m2a = m2.Data, s2a = s2.Data;
        var k = keep.ToArray();
        var c = carry.ToArray();
        var e = momentumKeep.ToArray();
        CpuParallel.For(spec.Rows, Math.Max(1, Chunk / Math.Max(n, 1)), (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                var mr = new ReadOnlySpan<float>(ma, m.Offset + r * n, n);
                var sr = new ReadOnlySpan<float>(sa, s.Offset + r * n, n);
                var dM = new ReadOnlySpan<float>(da, delta.Offset + 2 * r * n, n);
                var dS = new ReadOnlySpan<float>(da, delta.Offset + (2 * r + 1) * n, n);
                var mo = new Span<float>(m2a, m2.Offset + r * n, n);
                var so = new Span<float>(s2a, s2.Offset + r * n, n);
                TensorPrimitives.Multiply(mr, k[r], mo);
                TensorPrimitives.MultiplyAdd(sr, c[r], mo, mo);
                TensorPrimitives.Subtract(mo, dM, mo);
                TensorPrimitives.Multiply(sr, e[r], so);
                TensorPrimitives.Subtract(so, dS, so);
            }
        });
    }

    public static void UpdateBackward(UpdateSpec spec, Tensor m, Tensor s, Tensor keep, Tensor carry, Tensor momentumKeep,
        Tensor gM, Tensor gS, ChunkUpdateGradients r)
    {
        int n = spec.Elements;
        float[] ma = m.Data, sa = s.Data, gma = gM.Data, gsa = gS.Data;
        float[] dma = r.Dm.Data, dsa = r.Ds.Data, dda = r.Ddelta.Data;
        var k = keep.ToArray();
        var c = carry.ToArray();
        var e = momentumKeep.ToArray();
        var dk = new float[spec.Rows];
        var dc = new float[spec.Rows];
        var de = new float[spec.Rows];
        CpuParallel.For(spec.Rows, Math.Max(1, Chunk / Math.Max(n, 1)), (start, end) =>
        {
            for (int row = start; row < end; row++)
            {
                var mr = new ReadOnlySpan<float>(ma, m.Offset + row * n, n);
                var sr = new ReadOnlySpan<float>(sa, s.Offset + row * n, n);
                var gm = new ReadOnlySpan<float>(gma, gM.Offset + row * n, n);
                var gs = new ReadOnlySpan<float>(gsa, gS.Offset + row * n, n);
                var dmr = new Span<float>(dma, r.Dm.Offset + row * n, n);
                var dsr = new Span<float>(dsa, r.Ds.Offset + row * n, n);
                float scale = spec.MaxNorm > 0f ? ClampMath.Scale(spec.MaxNorm, TensorPrimitives.SumOfSquares(gm) + TensorPrimitives.SumOfSquares(gs)) : 1f;
                TensorPrimitives.Multiply(gm, k[row] * scale, dmr);
                TensorPrimitives.Multiply(gm, c[row] * scale, dsr);
                TensorPrimitives.MultiplyAdd(gs, e[row] * scale, dsr, dsr);
                TensorPrimitives.Multiply(gm, -scale, new Span<float>(dda, r.Ddelta.Offset + 2 * row * n, n));
                TensorPrimitives.Multiply(gs, -scale, new Span<float>(dda, r.Ddelta.Offset + (2 * row + 1) * n, n));
                dk[row] = scale * TensorPrimitives.Dot(gm, mr);
                dc[row] = scale * TensorPrimitives.Dot(gm, sr);
                de[row] = scale * TensorPrimitives.Dot(gs, sr);
            }
        });
        r.Dkeep.CopyFromHost<float>(dk);
        r.Dcarry.CopyFromHost<float>(dc);
        r.DmomentumKeep.CopyFromHost<float>(de);
    }
}
