using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: softmax and log-softmax over the last dimension.</summary>
public static partial class F
{
    /// <summary>Softmax over the last dimension (max-subtracted; backward dx = y ⊙ (dy − Σ dy⊙y)).</summary>
    public static Variable Softmax(Variable x)
    {
        var y = Kernels.Softmax.Forward(x.Data);
        return Autograd.Record(y, "Softmax", new[] { x }, g => new Tensor?[] { Kernels.Softmax.Backward(y, g) });
    }

    /// <summary>Log-softmax over the last dimension (x − max − ln Σ e^(x−max); backward dx = dy − softmax·Σ dy).</summary>
    public static Variable LogSoftmax(Variable x)
    {
        var y = Kernels.Softmax.Forward(x.Data, log: true);
        return Autograd.Record(y, "LogSoftmax", new[] { x }, g => new Tensor?[] { Kernels.Softmax.Backward(y, g, log: true) });
    }
}
