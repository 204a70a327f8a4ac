namespace Ssm.Kernels;

/// <summary>
/// Softmax and log-softmax over the last dimension, numerically stable (the row maximum is subtracted before
/// exponentiating), with their backward kernels:
/// softmax y = e^(x−m)/Σe^(x−m), dx = y ⊙ (dy − Σ dy⊙y); log-softmax y = x − m − ln Σe^(x−m), dx = dy − e^y·Σ dy.
/// A row whose maximum is ±∞ gives NaN, as in PyTorch.
/// CPU: TensorPrimitives per row, parallel over rows; ILGPU: one group per row with shared-memory tree reductions.
/// </summary>
public static class Softmax
{
    /// <summary>Softmax (or, with <paramref name="log"/>, log-softmax) of x over its last dimension.</summary>
    public static Tensor Forward(Tensor x, bool log = false)
    {
        string op = log ? "Softmax.LogSoftmax" : "Softmax.Softmax";
        Guard.DType(op, x, "x", DType.Float32);
        Guard.That(x.Rank > 0, op, nameof(x), "x is a scalar (shape []); softmax needs at least one dimension.");
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        int n = x.Size(-1);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) SoftmaxGpu.Forward(x, y, x.Length / n, n, log);
        else SoftmaxCpu.Forward(x, y, x.Length / n, n, log);
        return y;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> from its output <paramref name="y"/> and the upstream gradient
    /// <paramref name="dy"/> (same shape): y ⊙ (dy − Σ dy⊙y), or for log-softmax dy − e^y·Σ dy, per row.
    /// </summary>
    public static Tensor Backward(Tensor y, Tensor dy, bool log = false)
    {
        string op = log ? "Softmax.LogSoftmaxBackward" : "Softmax.SoftmaxBackward";
        Guard.DType(op, y, "y", DType.Float32);
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, y, "y", dy, "dy");
        Guard.Shape(op, dy, "dy", y.Shape, "(the shape of y)");
        Guard.That(y.Rank > 0, op, nameof(y), "y is a scalar (shape []); softmax needs at least one dimension.");
        var dx = Tensor.Empty(y.Shape, DType.Float32, y.Device);
        int n = y.Size(-1);
        if (dx.Length == 0) return dx;
        if (y.Device.IsIlgpu) SoftmaxGpu.Backward(y, dy, dx, y.Length / n, n, log);
        else SoftmaxCpu.Backward(y, dy, dx, y.Length / n, n, log);
        return dx;
    }
}
