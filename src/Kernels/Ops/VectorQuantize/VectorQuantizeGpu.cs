using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="VectorQuantize"/>: ‖c_s‖² (a thread per code), the nearest-codeword search (a thread per
/// key row, codes in ascending order with a strict comparison so ties keep the lowest index, then the row of k̂), the
/// aggregation (a thread per value element, Atomic.Add into the zeroed sums; the element-0 thread also counts; a code
/// outside [0, S) is skipped) and the EMA update (a group per codebook, ΣN by a shared-memory tree reduction).
/// </summary>
internal static class VectorQuantizeGpu
{
    [GpuKernel]
    internal static void SquaredNormsKernel(Index1D i, ArrayView<float> codebook, ArrayView<float> norms, int dim)
    {
        float acc = 0f;
        for (int d = 0; d < dim; d++) acc += codebook[i * dim + d] * codebook[i * dim + d];
        norms[i] = acc;
    }

    [GpuKernel]
    internal static void NearestKernel(Index1D n, VqLayout l, ArrayView<float> keys, ArrayView<float> codebook, ArrayView<float> norms,
        ArrayView<int> codes, ArrayView<float> quantized)
    {
        int g = l.Group(n), D = l.Dim, S = l.Codes, ko = n * D, best = 0;
        float bestDistance = float.PositiveInfinity;
        for (int s = 0; s < S; s++)
        {
            int co = (g * S + s) * D;
            float dot = 0f;
            for (int d = 0; d < D; d++) dot += keys[ko + d] * codebook[co + d];
            float dist = norms[g * S + s] - 2f * dot;
            if (dist < bestDistance) { bestDistance = dist; best = s; }
        }
        codes[n] = best;
        int bo = (g * S + best) * D;
        for (int d = 0; d < D; d++) quantized[ko + d] = codebook[bo + d];
    }

    [GpuKernel]
    internal static void AggregateKernel(Index1D i, AggregateDims d, ArrayView<int> codes, ArrayView<float> values, ArrayView<float> counts, ArrayView<float> sums)
    {
        int pos = i / d.Width, e = i - pos * d.Width, g = pos / d.Length, j = pos - g * d.Length, s = codes[pos];
        if (s < 0 || s >= d.Codes) return;
        int slot = d.Slot(g, j / d.Block) + s;
        Atomic.Add(ref sums[slot * d.Width + e], values[i]);
        if (e == 0) Atomic.Add(ref counts[slot], 1f);
    }

    [GpuKernel(Grouped = true)]
    internal static void EmaUpdateKernel(ArrayView<float> emaCounts, ArrayView<float> emaSums, ArrayView<float> batchCounts, ArrayView<float> batchSums,
        ArrayView<float> codebook, int codes, int dim, float decay, float epsilon)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int g = Grid.IdxX;
        float keep = decay, add = 1f - decay, partial = 0f;
        for (int s = Group.IdxX; s < codes; s += Group.DimX)
        {
            int i = g * codes + s;
            float count = keep * emaCounts[i] + add * batchCounts[i];
            emaCounts[i] = count;
            partial += count;
            for (int d = 0; d < dim; d++) emaSums[i * dim + d] = keep * emaSums[i * dim + d] + add * batchSums[i * dim + d];
        }
        float total = GroupReduce.Sum(shared, partial);
        if (!(total > 0f)) return;
        for (int s = Group.IdxX; s < codes; s += Group.DimX)
        {
            int i = g * codes + s;
            float smoothed = (emaCounts[i] + epsilon) / (total + codes * epsilon) * total;
            for (int d = 0; d < dim; d++) codebook[i * dim + d] = emaSums[i * dim + d] / smoothed;
        }
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    /// <summary>‖c_s‖² of every row of a codebook [.., S, D] as a new [rows] tensor.</summary>
    internal static Tensor SquaredNorms(Tensor codebook, int rows, int dim)
    {
        var norms = Tensor.Empty(new[] { rows }, DType.Float32, codebook.Device);
        Dev(codebook).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int>>(SquaredNormsKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(SquaredNormsKernel))
            (rows, codebook.View, norms.View, dim);
        return norms;
    }

    public static void Nearest(Tensor keys, Tensor codebook, Tensor codes, Tensor quantized, VqLayout l)
    {
        using var norms = SquaredNorms(codebook, l.Heads * l.Codes, l.Dim);
        Dev(keys).Kernel<Action<Index1D, VqLayout, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>>(NearestKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, VqLayout, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>>(NearestKernel))
            (l.Rows, l, keys.View, codebook.View, norms.View, codes.GpuView<int>(), quantized.View);
    }

    public static void Aggregate(Tensor codes, Tensor values, Tensor counts, Tensor sums, AggregateDims d)
    {
        Dev(values).Kernel<Action<Index1D, AggregateDims, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>>(AggregateKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, AggregateDims, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(AggregateKernel))
            (values.Length, d, codes.GpuView<int>(), values.View, counts.View, sums.View);
    }

    public static void EmaUpdate(Tensor emaCounts, Tensor emaSums, Tensor batchCounts, Tensor batchSums, Tensor codebook,
        int heads, int codes, int dim, float decay, float epsilon)
    {
        var dev = Dev(codebook);
        int group = GroupReduce.GroupSize(dev, codes);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, float>>(EmaUpdateKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float, float>(EmaUpdateKernel))
            (GroupReduce.PerRow(heads, group, group), emaCounts.View, emaSums.View, batchCounts.View, batchSums.View, codebook.View, codes, dim, decay, epsilon);
    }
}
