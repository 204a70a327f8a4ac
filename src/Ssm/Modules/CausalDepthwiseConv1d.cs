using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// Causal depthwise 1-D convolution over channel-last input [B, L, C] with optional fused SiLU — the convolution of
/// Mamba blocks. Parameters follow torch.nn.Conv1d(C, C, W, groups=C): <c>weight</c> [C, 1, W] and <c>bias</c> [C];
/// out[t, c] = bias[c] + Σ_k weight[c, 0, k]·x[t − (W−1) + k, c] (zero left padding).
/// </summary>
public sealed class CausalDepthwiseConv1d : Module
{
    /// <summary>Creates the convolution with torch's default Conv1d initialization (U[±1/√W]).</summary>
    public CausalDepthwiseConv1d(int channels, int width, bool bias, Rng rng, Device? device = null)
    {
        Guard.Positive("CausalDepthwiseConv1d", nameof(channels), channels);
        Guard.Positive("CausalDepthwiseConv1d", nameof(width), width);
        Channels = channels;
        Width = width;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Empty(new[] { channels, 1, width }, DType.Float32, device)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Empty(new[] { channels }, DType.Float32, device)));
        Init.LinearDefault(Weight.Data, Bias?.Data, rng);
    }

    /// <summary>Channels C.</summary>
    public int Channels { get; }
    /// <summary>Kernel width W.</summary>
    public int Width { get; }
    /// <summary>Weight [C, 1, W].</summary>
    public Parameter Weight { get; }
    /// <summary>Bias [C], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>The weight viewed as [C, W] (what the kernel op takes).</summary>
    public Variable Weight2d => F.Reshape(Weight, Channels, Width);

    /// <summary>Convolves x [B, L, C]; <paramref name="initialState"/> [B, C, W] supplies the inputs before t = 0 (chunked prefill).</summary>
    public Variable Forward(Variable x, bool silu, Tensor? initialState = null) => F.CausalConv1d(x, Weight2d, Bias, silu, initialState);

    /// <summary>One recurrent step: shifts <paramref name="state"/> [B, C, W] left, appends xt [B, C], returns the output [B, C].</summary>
    public Tensor Step(Tensor state, Tensor xt, bool silu)
        => Conv1d.Step(state, xt, Weight.Data.Reshape(Channels, Width), Bias?.Data, silu);
}
