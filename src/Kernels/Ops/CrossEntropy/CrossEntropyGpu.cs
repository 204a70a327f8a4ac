using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="CrossEntropy"/>: one group per row computes the log-sum-exp (shared-memory tree
/// reductions) and the row loss; one group reduces the row losses and counts the non-ignored rows on the device (no
/// host sync); the backward writes each dlogit directly, one thread per element. Targets are read from an int32 or an
/// int64 view (<see cref="IndexValidation.Read"/>); a target outside [0, V) that is not ignored yields NaN.
/// </summary>
internal static class CrossEntropyGpu
{
    [GpuKernel(Grouped = true)]
    internal static void RowLossKernel(ArrayView<float> x, ArrayView<int> targets32, ArrayView<long> targets64,
        ArrayView<float> lse, ArrayView<float> rowLoss, int vocab, int ignoreIndex, float smoothing)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int r = Grid.IdxX, start = r * vocab;
        float l = SoftmaxGpu.RowMaxAndLogSumExp(shared, x, start, vocab, out float logSum) + logSum;
        float mean = 0f;
        if (smoothing > 0f)
        {
            float acc = 0f;
            for (int k = Group.IdxX; k < vocab; k += Group.DimX) acc += x[start + k];
            mean = GroupReduce.Sum(shared, acc) / vocab;
        }
        if (Group.IdxX == 0)
        {
            lse[r] = l;
            long t = IndexValidation.Read(targets32, targets64, r);
            if (t == ignoreIndex) rowLoss[r] = 0f;
            else if (t < 0 || t >= vocab) rowLoss[r] = float.NaN;
            else rowLoss[r] = l - (1f - smoothing) * x[start + (int)t] - smoothing * mean;
        }
    }

    /// <summary>One group: count = #rows with target ≠ ignoreIndex; loss = Σ rowLoss (Sum) or Σ/count, 0 if none (Mean); nothing for None.</summary>
    [GpuKernel(Grouped = true)]
    internal static void ReduceKernel(ArrayView<float> rowLoss, ArrayView<int> targets32, ArrayView<long> targets64,
        ArrayView<float> loss, ArrayView<float> count, int rows, int ignoreIndex, int reduction)
    {
        var shared = SharedMemory.GetDynamic<float>();
        float sum = 0f, valid = 0f;
        for (int r = Group.IdxX; r < rows; r += Group.DimX)
        {
            sum += rowLoss[r];
            if (IndexValidation.Read(targets32, targets64, r) != ignoreIndex) valid += 1f;
        }
        sum = GroupReduce.Sum(shared, sum);
        valid = GroupReduce.Sum(shared, valid);
        if (Group.IdxX == 0)
        {
            count[0] = valid;
            if (reduction == (int)LossReduction.Sum) loss[0] = sum;
            else if (reduction == (int)LossReduction.Mean) loss[0] = valid > 0f ? sum / valid : 0f;
        }
    }

    [GpuKernel]
    internal static void BackwardKernel(Index1D i, ArrayView<float> x, ArrayView<int> targets32, ArrayView<long> targets64,
        ArrayView<float> lse, ArrayView<float> dLoss, ArrayView<float> count, ArrayView<float> dx,
        int vocab, int ignoreIndex, int reduction, float smoothing)
    {
        int r = i / vocab, v = i - r * vocab;
        long t = IndexValidation.Read(targets32, targets64, r);
        if (t == ignoreIndex)
        {
            dx[i] = 0f;
            return;
        }
        float scale = reduction == (int)LossReduction.None ? dLoss[r]
            : reduction == (int)LossReduction.Sum ? dLoss[0]
            : dLoss[0] / (count[0] > 1f ? count[0] : 1f);
        float q = (v == t ? 1f - smoothing : 0f) + smoothing / vocab;
        float p = MathF.Exp(x[i] - lse[r]);
        dx[i] = t < 0 || t >= vocab ? float.NaN : (p - q) * scale;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(Tensor logits, Tensor targets, Tensor loss, Tensor lse, Tensor count,
        int rows, int vocab, int ignoreIndex, LossReduction reduction, float smoothing)
    {
        var dev = Dev(logits);
        var (t32, t64) = IndexValidation.GpuViews(targets);
        bool none = reduction == LossReduction.None;
        using var temp = none ? null : Tensor.Empty(new[] { rows }, DType.Float32, dev);
        var rowLoss = none ? loss : temp!;
        int groupSize = GroupReduce.GroupSize(dev, vocab);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int, float>>(RowLossKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int, float>(RowLossKernel))
            (GroupReduce.PerRow(rows, groupSize, groupSize), logits.View, t32, t64, lse.View, rowLoss.View, vocab, ignoreIndex, smoothing);
        int reduceSize = GroupReduce.GroupSize(dev, rows);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int, int>>(ReduceKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int, int>(ReduceKernel))
            (GroupReduce.PerRow(1, reduceSize, reduceSize), rowLoss.View, t32, t64, none ? ArrayView<float>.Empty : loss.View, count.View,
             rows, ignoreIndex, (int)reduction);
    }

    public static void Backward(Tensor logits, Tensor targets, CrossEntropyResult forward, Tensor dLoss, Tensor dx, int rows, int vocab)
    {
        var (t32, t64) = IndexValidation.GpuViews(targets);
        Dev(logits).Kernel<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>>(BackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, float>(BackwardKernel))
            (rows * vocab, logits.View, t32, t64, forward.LogSumExp.View, dLoss.View, forward.ValidCount.View, dx.View,
             vocab, forward.IgnoreIndex, (int)forward.Reduction, forward.LabelSmoothing);
    }
}
