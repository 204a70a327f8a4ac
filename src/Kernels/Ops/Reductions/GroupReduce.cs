using ILGPU;

namespace Ssm.Kernels;

// Shared-memory tree reductions across one ILGPU group (classic halving tree: at step s, thread t < s combines
// slots t and t+s, Group.Barrier() between steps). Used by row-wise kernels (reductions, softmax, cross-entropy), which
// launch one group per row with a power-of-two group size from GroupSize and request GroupSize floats of dynamic
// shared memory (twice that for ArgMax). Explicit barriers instead of GroupExtensions.Reduce, which is wrong on the
// ILGPU CPU accelerator at some warp sizes (see ARCHITECTURE.md).
internal static class GroupReduce
{
    /// <summary>
    /// Threads per group for a row of <paramref name="n"/> elements: the smallest power of two ≥ n, at least the warp
    /// size, at most the device's largest power-of-two group size.
    /// </summary>
    public static int GroupSize(IlgpuDevice device, int n)
    {
        int max = 1;
        while (max * 2 <= device.MaxGroupSize) max *= 2;
        int size = Math.Max(device.WarpSize, 1);
        while (size < n && size < max) size *= 2;
        return Math.Min(size, max);
    }

    /// <summary>Launch configuration: one group of <paramref name="groupSize"/> threads per row, with <paramref name="sharedFloats"/> floats of dynamic shared memory.</summary>
    public static KernelConfig PerRow(int rows, int groupSize, int sharedFloats)
        => new(rows, groupSize, SharedMemoryConfig.RequestDynamic<float>(sharedFloats));

    /// <summary>Σ of <paramref name="value"/> over the group (every thread gets the result).</summary>
    public static float Sum(ArrayView<float> shared, float value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        float result = shared[0];
        Group.Barrier();
        return result;
    }

    /// <summary>max of <paramref name="value"/> over the group (every thread gets the result; NaN propagates).</summary>
    public static float Max(ArrayView<float> shared, float value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s)
            {
                float other = shared[t + s];
                if (other > shared[t] || float.IsNaN(other)) shared[t] = other;
            }
            Group.Barrier();
        }
        float result = shared[0];
        Group.Barrier();
        return result;
    }

    /// <summary>
    /// The (value, index) pair that wins <see cref="Better"/> over the group; <paramref name="shared"/> holds 2·group
    /// size floats (values, then indices reinterpreted as int). Every thread gets the result.
    /// </summary>
    public static int ArgMax(ArrayView<float> shared, float value, int index, out float best)
    {
        int t = Group.IdxX, n = Group.DimX;
        var values = shared.SubView(0, n);
        var indices = shared.SubView(n, n).Cast<int>();
        values[t] = value;
        indices[t] = index;
        Group.Barrier();
        for (int s = n / 2; s > 0; s >>= 1)
        {
            if (t < s && Better(values[t + s], indices[t + s], values[t], indices[t]))
            {
                values[t] = values[t + s];
                indices[t] = indices[t + s];
            }
            Group.Barrier();
        }
        best = values[0];
        int result = indices[0];
        Group.Barrier();
        return result;
    }

    /// <summary>
    /// Max order with a first-occurrence tie-break: NaN beats numbers (NaN propagates, like PyTorch), a larger value
    /// wins, equal values go to the smaller index. The result of any reduction order is the first maximum (or first NaN).
    /// </summary>
    public static bool Better(float v, int i, float best, int bestIndex)
    {
        bool vNaN = float.IsNaN(v), bNaN = float.IsNaN(best);
        if (vNaN || bNaN) return vNaN && (!bNaN || i < bestIndex);
        return v > best || (v == best && i < bestIndex);
    }
}
