using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementations of <see cref="Reductions"/>. x is viewed as [outer, n, inner]. Last-dimension reductions
/// (inner = 1) reduce each contiguous row with TensorPrimitives, parallel over rows; the others accumulate whole rows
/// x[o, k, c0..c1) into the output so that memory stays contiguous, parallel over (outer, column chunk) units.
/// </summary>
internal static class ReductionsCpu
{
    private const int Chunk = 16384;      // elements per parallel work item (roughly)
    private const int Columns = 2048;     // inner columns per work unit for non-last reductions

    public static void SumAll(Tensor x, Tensor y, float scale)
    {
        // Fixed blocks summed in float with SIMD, the partials in double: deterministic for any thread count.
        float[] xa = x.Data;
        int xo = x.Offset, n = x.Length, blocks = (n + Chunk - 1) / Chunk;
        var partials = new double[blocks];
        CpuParallel.For(blocks, 1, (s, e) =>
        {
            for (int b = s; b < e; b++)
            {
                int start = b * Chunk;
                partials[b] = TensorPrimitives.Sum(new ReadOnlySpan<float>(xa, xo + start, Math.Min(Chunk, n - start)));
            }
        });
        double sum = 0;
        foreach (var p in partials) sum += p;
        y.Span[0] = (float)(sum * scale);
    }

    public static void Sum(Tensor x, Tensor y, int outer, int n, int inner, float scale)
    {
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        if (inner == 1)
        {
            CpuParallel.For(outer, Math.Max(1, Chunk / n), (s, e) =>
            {
                for (int o = s; o < e; o++)
                    ya[yo + o] = scale * TensorPrimitives.Sum(new ReadOnlySpan<float>(xa, xo + o * n, n));
            });
            return;
        }
        ForColumnUnits(outer, n, inner, (o, c0, len) =>
        {
            var dst = new Span<float>(ya, yo + o * inner + c0, len);
            int rowBase = xo + o * n * inner + c0;
            new ReadOnlySpan<float>(xa, rowBase, len).CopyTo(dst);
            for (int k = 1; k < n; k++) TensorPrimitives.Add(dst, new ReadOnlySpan<float>(xa, rowBase + k * inner, len), dst);
            if (scale != 1f) TensorPrimitives.Multiply(dst, scale, dst);
        });
    }

    public static void Max(Tensor x, Tensor values, Tensor indices, int outer, int n, int inner)
    {
        float[] xa = x.Data, va = values.Data;
        int[] ia = indices.CpuArray<int>();
        int xo = x.Offset, vo = values.Offset, io = indices.Offset;
        if (inner == 1)
        {
            CpuParallel.For(outer, Math.Max(1, Chunk / n), (s, e) =>
            {
                for (int o = s; o < e; o++)
                {
                    var row = new ReadOnlySpan<float>(xa, xo + o * n, n);
                    int k = TensorPrimitives.IndexOfMax(row);
                    va[vo + o] = row[k];
                    ia[io + o] = k;
                }
            });
            return;
        }
        ForColumnUnits(outer, n, inner, (o, c0, len) =>
        {
            var best = new Span<float>(va, vo + o * inner + c0, len);
            var index = new Span<int>(ia, io + o * inner + c0, len);
            int rowBase = xo + o * n * inner + c0;
            new ReadOnlySpan<float>(xa, rowBase, len).CopyTo(best);
            index.Clear();
            for (int k = 1; k < n; k++) MaxStep(new ReadOnlySpan<float>(xa, rowBase + k * inner, len), k, best, index);
        });
    }

    /// <summary>best, index ← row, k where row beats best (<see cref="GroupReduce.Better"/> with k larger than every index so far).</summary>
    private static void MaxStep(ReadOnlySpan<float> row, int k, Span<float> best, Span<int> index)
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated && row.Length >= Vector256<float>.Count)
        {
            ref float r = ref MemoryMarshal.GetReference(row);
            ref float b = ref MemoryMarshal.GetReference(best);
            ref int ix = ref MemoryMarshal.GetReference(index);
            var kv = Vector256.Create(k);
            for (; j <= row.Length - Vector256<float>.Count; j += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref r, (nuint)j);
                var bv = Vector256.LoadUnsafe(ref b, (nuint)j);
                var vNaN = ~Vector256.Equals(v, v);
                var bNaN = ~Vector256.Equals(bv, bv);
                var take = Vector256.GreaterThan(v, bv) | Vector256.AndNot(vNaN, bNaN);
                Vector256.ConditionalSelect(take, v, bv).StoreUnsafe(ref b, (nuint)j);
                Vector256.ConditionalSelect(take.AsInt32(), kv, Vector256.LoadUnsafe(ref ix, (nuint)j)).StoreUnsafe(ref ix, (nuint)j);
            }
        }
        for (; j < row.Length; j++)
            if (GroupReduce.Better(row[j], k, best[j], index[j]))
            {
                best[j] = row[j];
                index[j] = k;
            }
    }

    public static void SumBackward(Tensor dy, Tensor dx, int outer, int n, int inner, float scale)
    {
        float[] ga = dy.Data, da = dx.Data;
        int go = dy.Offset, dof = dx.Offset;
        CpuParallel.For(outer, Math.Max(1, Chunk / (n * inner)), (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                if (inner == 1)
                {
                    new Span<float>(da, dof + o * n, n).Fill(scale * ga[go + o]);
                    continue;
                }
                var src = new ReadOnlySpan<float>(ga, go + o * inner, inner);
                for (int k = 0; k < n; k++) TensorPrimitives.Multiply(src, scale, new Span<float>(da, dof + (o * n + k) * inner, inner));
            }
        });
    }

    public static void MaxBackward(Tensor dy, Tensor indices, Tensor dx, int n, int inner)
    {
        float[] ga = dy.Data, da = dx.Data;
        int[] ia = indices.CpuArray<int>();
        int go = dy.Offset, io = indices.Offset, dof = dx.Offset;
        CpuParallel.For(dy.Length, Chunk, (s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                int o = i / inner, j = i - o * inner;
                da[dof + (o * n + ia[io + i]) * inner + j] = ga[go + i];
            }
        });
    }

    /// <summary>Runs <paramref name="body"/>(o, c0, length) over every outer row o and chunk of inner columns, in parallel.</summary>
    private static void ForColumnUnits(int outer, int n, int inner, Action<int, int, int> body)
    {
        int perRow = (inner + Columns - 1) / Columns;
        CpuParallel.For(outer * perRow, Math.Max(1, Chunk / (n * Math.Min(inner, Columns))), (s, e) =>
        {
            for (int u = s; u < e; u++)
            {
                int o = u / perRow, c0 = (u - o * perRow) * Columns;
                body(o, c0, Math.Min(Columns, inner - c0));
            }
        });
    }
}
