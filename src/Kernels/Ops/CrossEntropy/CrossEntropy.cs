namespace Ssm.Kernels;

/// <summary>How per-row losses are combined (like PyTorch's <c>reduction</c>).</summary>
public enum LossReduction
{
    /// <summary>One loss per row (0 for ignored rows).</summary>
    None,
    /// <summary>Mean over the rows whose target is not the ignore index (0 when every row is ignored).</summary>
    Mean,
    /// <summary>Sum over all rows (ignored rows add 0).</summary>
    Sum,
}

/// <summary>The output of <see cref="CrossEntropy.Forward"/> plus what its backward needs.</summary>
public sealed class CrossEntropyResult
{
    internal CrossEntropyResult(Tensor loss, Tensor logSumExp, Tensor validCount, int ignoreIndex, LossReduction reduction, float labelSmoothing)
    {
        Loss = loss;
        LogSumExp = logSumExp;
        ValidCount = validCount;
        IgnoreIndex = ignoreIndex;
        Reduction = reduction;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>The loss: shape [] for Mean and Sum, the targets' shape for None.</summary>
    public Tensor Loss { get; }

    /// <summary>ln Σ_v exp(logits[r, v]) per row, shape [rows] (saved for the backward).</summary>
    public Tensor LogSumExp { get; }

    /// <summary>Number of rows whose target is not the ignore index, as a float32 tensor of shape [] (kept on the device).</summary>
    public Tensor ValidCount { get; }

    /// <summary>The target value whose rows are skipped.</summary>
    public int IgnoreIndex { get; }

    /// <summary>How the row losses were combined.</summary>
    public LossReduction Reduction { get; }

    /// <summary>Label-smoothing weight ε in [0, 1].</summary>
    public float LabelSmoothing { get; }
}

/// <summary>
/// Fused softmax cross-entropy over the last dimension of logits [..., V] with integer targets [...] (int32 or int64).
/// Per row r with target t (ε = label smoothing, as in PyTorch's <c>label_smoothing</c>):
/// lse_r = m + ln Σ_v e^(x_rv − m) (m the row max), loss_r = lse_r − (1−ε)·x_rt − ε·mean_v x_rv; rows with
/// t = ignoreIndex contribute 0 and are not counted. Backward: dlogits_rv = (e^(x_rv − lse_r) − (1−ε)·[v = t] − ε/V)·s_r
/// with s_r = g/count (Mean), g (Sum) or g_r (None); 0 on ignored rows. A batch where every row is ignored has Mean loss
/// 0 and zero gradient (PyTorch returns NaN). Targets outside [0, V) are rejected (see <see cref="IndexValidation"/>
/// for ILGPU devices, where unchecked bad targets make their row's loss and gradient NaN).
/// CPU: TensorPrimitives per row, parallel over rows; ILGPU: one group per row for the log-sum-exp and row loss, one
/// group for the reduction, one thread per logit for the gradient.
/// </summary>
public static class CrossEntropy
{
    /// <summary>Computes the loss and saves the per-row log-sum-exp for <see cref="Backward"/>.</summary>
    public static CrossEntropyResult Forward(Tensor logits, Tensor targets, int ignoreIndex = -100,
        LossReduction reduction = LossReduction.Mean, float labelSmoothing = 0f)
    {
        const string op = "CrossEntropy.Forward";
        var (rows, vocab) = Check(op, logits, targets);
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"{op}: labelSmoothing must be in [0, 1], got {labelSmoothing}.");
        if (!Enum.IsDefined(reduction))
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, $"{op}: unknown reduction {reduction}.");
        IndexValidation.CheckRange(op, targets, "targets", vocab, ignoreIndex, $"number of classes, the last dimension of logits {Shapes.Format(logits.Shape)}");

        var device = logits.Device;
        var loss = reduction == LossReduction.None
            ? Tensor.Empty(targets.Shape, DType.Float32, device)
            : Tensor.Empty(ReadOnlySpan<int>.Empty, DType.Float32, device);
        var lse = Tensor.Empty(new[] { rows }, DType.Float32, device);
        var count = Tensor.Empty(ReadOnlySpan<int>.Empty, DType.Float32, device);
        if (rows == 0)
        {
            if (loss.Length > 0) Elementwise.Fill(loss, 0f);
            Elementwise.Fill(count, 0f);
        }
        else if (device.IsIlgpu) CrossEntropyGpu.Forward(logits, targets, loss, lse, count, rows, vocab, ignoreIndex, reduction, labelSmoothing);
        else CrossEntropyCpu.Forward(logits, targets, loss, lse, count, rows, vocab, ignoreIndex, reduction, labelSmoothing);
        return new CrossEntropyResult(loss, lse, count, ignoreIndex, reduction, labelSmoothing);
    }

    /// <summary>dlogits from the upstream gradient <paramref name="dLoss"/> (the shape of <see cref="CrossEntropyResult.Loss"/>).</summary>
    public static Tensor Backward(Tensor logits, Tensor targets, CrossEntropyResult forward, Tensor dLoss)
    {
        const string op = "CrossEntropy.Backward";
        var (rows, vocab) = Check(op, logits, targets);
        Guard.DType(op, dLoss, "dLoss", DType.Float32);
        Guard.SameDevice(op, logits, "logits", dLoss, "dLoss");
        Guard.Shape(op, dLoss, "dLoss", forward.Loss.Shape, "(the shape of the loss)");
        Guard.Shape(op, forward.LogSumExp, "forward.LogSumExp", new[] { rows }, "[rows] (logits were changed since the forward?)");
        var dx = Tensor.Empty(logits.Shape, DType.Float32, logits.Device);
        if (rows == 0 || vocab == 0) return dx;
        if (logits.Device.IsIlgpu) CrossEntropyGpu.Backward(logits, targets, forward, dLoss, dx, rows, vocab);
        else CrossEntropyCpu.Backward(logits, targets, forward, dLoss, dx, rows, vocab);
        return dx;
    }

    /// <summary>Parses a PyTorch-style reduction name: "mean", "sum" or "none".</summary>
    public static LossReduction ParseReduction(string reduction) => reduction?.Trim().ToLowerInvariant() switch
    {
        "mean" => LossReduction.Mean,
        "sum" => LossReduction.Sum,
        "none" => LossReduction.None,
        _ => throw new ArgumentException($"CrossEntropy: reduction is '{reduction}', expected \"mean\", \"sum\" or \"none\".", nameof(reduction)),
    };

    private static (int Rows, int Vocab) Check(string op, Tensor logits, Tensor targets)
    {
        Guard.DType(op, logits, "logits", DType.Float32);
        IndexValidation.RequireIndexType(op, targets, "targets");
        Guard.SameDevice(op, logits, "logits", targets, "targets");
        if (logits.Rank < 2)
            throw new ArgumentException($"{op}: logits has shape {Shapes.Format(logits.Shape)}, expected [..., classes] with at least 2 dimensions.", nameof(logits));
        var batch = logits.Shape[..^1];
        if (!Shapes.Equal(targets.Shape, batch))
            throw new ArgumentException(
                $"{op}: targets has shape {Shapes.Format(targets.Shape)}, expected {Shapes.Format(batch)} (logits {Shapes.Format(logits.Shape)} without the class dimension).", nameof(targets));
        int vocab = logits.Size(-1);
        if (vocab == 0 && targets.Length > 0)
            throw new ArgumentException($"{op}: logits has shape {Shapes.Format(logits.Shape)}: no classes.", nameof(logits));
        return (targets.Length, vocab);
    }
}
