using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// Several sums across one ILGPU group at once, for kernels that reduce a handful of per-thread accumulators (e.g. the
/// complex gradient sums of the Vandermonde and Cauchy backward kernels). Shared memory holds <c>slots</c> rows of
/// Group.DimX floats (slot q of thread t at q·DimX + t); a halving tree with Group.Barrier() between steps leaves each
/// slot's total at q·DimX. The group size must be a power of two (<see cref="GroupSize"/>).
/// </summary>
internal static class GroupSums
{
    /// <summary>The largest power of two ≤ min(device's group size, <paramref name="cap"/>) whose shared rows fit in 32 KiB.</summary>
    public static int GroupSize(IlgpuDevice device, int slots, int cap = 256)
    {
        int size = 1;
        while (size * 2 <= Math.Min(device.MaxGroupSize, cap) && size * 2 * slots * sizeof(float) <= 32 * 1024) size *= 2;
        return size;
    }

    /// <summary>One group of <paramref name="groupSize"/> threads per item, with <paramref name="slots"/> shared rows.</summary>
    public static KernelConfig PerItem(int items, int groupSize, int slots)
        => new(items, groupSize, SharedMemoryConfig.RequestDynamic<float>(groupSize * slots));

    /// <summary>Sums every slot over the group in place; afterwards slot q's total is at shared[q·Group.DimX].</summary>
    public static void Reduce(ArrayView<float> shared, int slots)
    {
        int t = Group.IdxX, g = Group.DimX;
        Group.Barrier();
        for (int s = g / 2; s > 0; s >>= 1)
        {
            if (t < s)
                for (int q = 0; q < slots; q++) shared[q * g + t] += shared[q * g + t + s];
            Group.Barrier();
        }
    }
}
