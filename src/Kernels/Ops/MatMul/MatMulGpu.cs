using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernel of <see cref="MatMul"/>: the classic shared-memory tiled product. A group of T×T threads computes a
/// T×T tile of C; for each T-deep step of K it loads a T×T tile of op(A) and of op(B) into shared memory (reading
/// along the contiguous dimension of each stored operand, so transposed operands are loaded coalesced too) and
/// accumulates. T comes from the device (16 on CUDA, 4 on the 16-thread test devices); the batch is grid dimension Z.
/// </summary>
internal static class MatMulGpu
{
    /// <summary>Most batch matrices per launch (CUDA's limit on grid dimension Z).</summary>
    private const int MaxGridZ = 65535;

    /// <summary>Grid (M/T, N/T, batch), group (T, T); dynamic shared memory 2·T·(T+1) floats (rows padded by one).</summary>
    [GpuKernel(Grouped = true)]
    internal static void TiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, MatMulLayout l,
        float alpha, float beta, int tile)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int pitch = tile + 1;
        var tileA = shared.SubView(0, tile * pitch);          // tileA[i * pitch + k] = op(A)[row0 + i, k0 + k]
        var tileB = shared.SubView(tile * pitch, tile * pitch); // tileB[k * pitch + j] = op(B)[k0 + k, col0 + j]
        int tx = Group.IdxX, ty = Group.IdxY;
        int row0 = Grid.IdxX * tile, col0 = Grid.IdxY * tile;
        int aBase = Grid.IdxZ * l.StrideA, bBase = Grid.IdxZ * l.StrideB, cBase = Grid.IdxZ * l.M * l.N;
        float sum = 0f;
        for (int k0 = 0; k0 < l.K; k0 += tile)
        {
            if (l.TransA == 0)
            {
                // A is M×K: consecutive threads (tx) read consecutive k.
                int i = row0 + ty, k = k0 + tx;
                tileA[ty * pitch + tx] = i < l.M && k < l.K ? a[aBase + i * l.K + k] : 0f;
            }
            else
            {
                // A is K×M: consecutive threads read consecutive rows i of op(A).
                int i = row0 + tx, k = k0 + ty;
                tileA[tx * pitch + ty] = i < l.M && k < l.K ? a[aBase + k * l.M + i] : 0f;
            }
            if (l.TransB == 0)
            {
                // B is K×N: consecutive threads read consecutive columns j.
                int k = k0 + ty, j = col0 + tx;
                tileB[ty * pitch + tx] = k < l.K && j < l.N ? b[bBase + k * l.N + j] : 0f;
            }
            else
            {
                // B is N×K: consecutive threads read consecutive k.
                int k = k0 + tx, j = col0 + ty;
                tileB[tx * pitch + ty] = k < l.K && j < l.N ? b[bBase + j * l.K + k] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < tile; kk++) sum += tileA[ty * pitch + kk] * tileB[kk * pitch + tx];
            Group.Barrier();
        }
        int row = row0 + ty, col = col0 + tx;
        if (row < l.M && col < l.N)
        {
            int idx = cBase + row * l.N + col;
            c[idx] = beta == 0f ? alpha * sum : alpha * sum + beta * c[idx];
        }
    }

    /// <summary>Tile edge: the largest power of two T ≤ 16 with T·T threads fitting in one group.</summary>
    internal static int TileEdge(int maxGroupSize)
    {
        int t = 1;
        while (t < 16 && 4 * t * t <= maxGroupSize) t *= 2;
        return t;
    }

    public static void Compute(Tensor a, Tensor b, Tensor c, MatMulLayout l, float alpha, float beta)
    {
        var dev = (IlgpuDevice)a.Device;
        int tile = TileEdge(dev.MaxGroupSize);
        var kernel = dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulLayout, float, float, int>>(
            TiledKernel, acc => acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, MatMulLayout, float, float, int>(TiledKernel));
        ArrayView<float> av = a.View, bv = b.View, cv = c.View;
        for (int first = 0; first < l.Batch; first += MaxGridZ)
        {
            int count = Math.Min(MaxGridZ, l.Batch - first);
            var config = new KernelConfig(
                new Index3D((l.M + tile - 1) / tile, (l.N + tile - 1) / tile, count), new Index3D(tile, tile, 1),
                SharedMemoryConfig.RequestDynamic<float>(2 * tile * (tile + 1)));
            kernel(config, av.SubView((long)first * l.StrideA), bv.SubView((long)first * l.StrideB),
                cv.SubView((long)first * l.M * l.N), l, alpha, beta, tile);
        }
    }
}
