using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementation of <see cref="Embedding"/> (ids validated before).</summary>
internal static class EmbeddingCpu
{
    private const int Chunk = 16384;

    public static void Forward(Tensor ids, Tensor weight, Tensor y, int dim)
    {
        var (ia, io) = IndexValidation.HostInt32(ids);
        float[] wa = weight.Data, ya = y.Data;
        int wo = weight.Offset, yo = y.Offset;
        CpuParallel.For(ids.Length, Math.Max(1, Chunk / dim), (s, e) =>
        {
            for (int i = s; i < e; i++)
                new ReadOnlySpan<float>(wa, wo + ia[io + i] * dim, dim).CopyTo(new Span<float>(ya, yo + i * dim, dim));
        });
    }

    public static void Backward(Tensor ids, Tensor dy, Tensor dw, int vocab, int dim)
    {
        // Counting sort of positions by id: positions[start[v] .. start[v+1]) are the rows of dy that add into dW[v].
        var (ia, io) = IndexValidation.HostInt32(ids);
        int n = ids.Length;
        var start = new int[vocab + 1];
        for (int i = 0; i < n; i++) start[ia[io + i] + 1]++;
        for (int v = 0; v < vocab; v++) start[v + 1] += start[v];
        var next = (int[])start.Clone();
        var positions = new int[n];
        for (int i = 0; i < n; i++) positions[next[ia[io + i]]++] = i;

        float[] ga = dy.Data, da = dw.Data;
        int go = dy.Offset, dof = dw.Offset;
        int perRow = (int)Math.Max(1, (long)n * dim / vocab);   // average elements added per dW row
        CpuParallel.For(vocab, Math.Max(1, Chunk / perRow), (s, e) =>
        {
            for (int v = s; v < e; v++)
            {
                var dst = new Span<float>(da, dof + v * dim, dim);
                for (int p = start[v]; p < start[v + 1]; p++)
                    TensorPrimitives.Add(dst, new ReadOnlySpan<float>(ga, go + positions[p] * dim, dim), dst);
            }
        });
    }
}
