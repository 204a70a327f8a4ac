using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// The parameters of a kernel-size-1 <c>torch.nn.Conv1d</c> (<c>weight</c> [out, in, 1], <c>bias</c> [out], torch's
/// default initialization), so that s4d.py's <c>output_linear.0</c> loads by name; the layer applies it as a matrix product.
/// </summary>
internal sealed class PointwiseConv1d : Module
{
    public PointwiseConv1d(int inChannels, int outChannels, Rng rng, Device device)
    {
        Weight = RegisterParameter("weight", new Parameter(Tensor.Empty(new[] { outChannels, inChannels, 1 }, DType.Float32, device)));
        Bias = RegisterParameter("bias", new Parameter(Tensor.Empty(new[] { outChannels }, DType.Float32, device)));
        Init.LinearDefault(Weight.Data, Bias.Data, rng);
    }

    public Parameter Weight { get; }
    public Parameter Bias { get; }
}
