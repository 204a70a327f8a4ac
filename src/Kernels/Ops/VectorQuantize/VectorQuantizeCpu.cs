using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementation of <see cref="VectorQuantize"/> (inputs validated before).</summary>
internal static class VectorQuantizeCpu
{
    private const int Chunk = 16384;

    /// <summary>‖c_s‖² of every codebook row ([heads·S] floats).</summary>
    internal static float[] SquaredNorms(float[] ca, int co, int rows, int dim)
    {
        var norms = new float[rows];
        for (int i = 0; i < rows; i++) norms[i] = TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(ca, co + i * dim, dim));
        return norms;
    }

    public static void Nearest(Tensor keys, Tensor codebook, Tensor codes, Tensor quantized, VqLayout l)
    {
        float[] ka = keys.Data, ca = codebook.Data, qa = quantized.Data;
        int[] za = codes.CpuArray<int>();
        int ko = keys.Offset, co = codebook.Offset, qo = quantized.Offset, zo = codes.Offset, D = l.Dim, S = l.Codes;
        var norms = SquaredNorms(ca, co, l.Heads * S, D);
        CpuParallel.For(l.Rows, Math.Max(1, Chunk / (S * D)), (start, end) =>
        {
            for (int n = start; n < end; n++)
            {
                int g = l.Group(n);
                var k = new ReadOnlySpan<float>(ka, ko + n * D, D);
                int best = 0;
                float bestDistance = float.PositiveInfinity;
                for (int s = 0; s < S; s++)
                {
                    float dist = norms[g * S + s] - 2f * TensorPrimitives.Dot(k, new ReadOnlySpan<float>(ca, co + (g * S + s) * D, D));
                    if (dist < bestDistance) { bestDistance = dist; best = s; }
                }
                za[zo + n] = best;
                new ReadOnlySpan<float>(ca, co + (g * S + best) * D, D).CopyTo(new Span<float>(qa, qo + n * D, D));
            }
        });
    }

    public static void Aggregate(Tensor codes, Tensor values, Tensor counts, Tensor sums, AggregateDims d)
    {
        int[] za = codes.CpuArray<int>();
        float[] va = values.Data, na = counts.Data, sa = sums.Data;
        int zo = codes.Offset, vo = values.Offset, no = counts.Offset, so = sums.Offset, V = d.Width;
        CpuParallel.For(d.Rows * d.Blocks, Math.Max(1, Chunk / (d.Block * V)), (start, end) =>
        {
            for (int item = start; item < end; item++)
            {
                int g = item / d.Blocks, r = item % d.Blocks, slot = d.Slot(g, r);
                int j0 = r * d.Block, j1 = Math.Min(d.Length, j0 + d.Block);
                for (int j = j0; j < j1; j++)
                {
                    int pos = g * d.Length + j, s = za[zo + pos];
                    na[no + slot + s] += 1f;
                    var dst = new Span<float>(sa, so + (slot + s) * V, V);
                    TensorPrimitives.Add(dst, new ReadOnlySpan<float>(va, vo + pos * V, V), dst);
                }
            }
        });
    }

    public static void EmaUpdate(Tensor emaCounts, Tensor emaSums, Tensor batchCounts, Tensor batchSums, Tensor codebook,
        int heads, int codes, int dim, float decay, float epsilon)
    {
        float[] na = emaCounts.Data, ma = emaSums.Data, nb = batchCounts.Data, mb = batchSums.Data, ca = codebook.Data;
        int no = emaCounts.Offset, mo = emaSums.Offset, nbo = batchCounts.Offset, mbo = batchSums.Offset, co = codebook.Offset;
        float keep = decay, add = 1f - decay;
        for (int g = 0; g < heads; g++)
        {
            float total = 0f;
            for (int s = 0; s < codes; s++)
            {
                int i = g * codes + s;
                na[no + i] = keep * na[no + i] + add * nb[nbo + i];
                total += na[no + i];
                var m = new Span<float>(ma, mo + i * dim, dim);
                TensorPrimitives.Multiply(m, keep, m);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(mb, mbo + i * dim, dim), add, m, m);
            }
            if (!(total > 0f)) continue;
            for (int s = 0; s < codes; s++)
            {
                int i = g * codes + s;
                float smoothed = (na[no + i] + epsilon) / (total + codes * epsilon) * total;
                TensorPrimitives.Divide(new ReadOnlySpan<float>(ma, mo + i * dim, dim), smoothed, new Span<float>(ca, co + i * dim, dim));
            }
        }
    }
}
