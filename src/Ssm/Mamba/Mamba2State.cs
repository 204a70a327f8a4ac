using Ssm.Kernels;

namespace Ssm.Mamba;

/// <summary>
/// Recurrent inference state of one Mamba-2 mixer (mamba_ssm's inference cache): <see cref="ConvState"/>
/// [batch, conv_dim, d_conv] (the last d_conv inputs of the convolution, oldest first) and <see cref="SsmState"/>
/// [batch, nheads, headdim, d_state]. Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public sealed class Mamba2State : IDisposable
{
    /// <summary>Zero state for <paramref name="batch"/> sequences.</summary>
    public Mamba2State(Mamba2Config config, int batch, Device device)
    {
        Guard.Positive("Mamba2State", nameof(batch), batch);
        Batch = batch;
        ConvState = Tensor.Zeros(new[] { batch, config.ConvDim, config.DConv }, DType.Float32, device).DetachFromScope();
        SsmState = Tensor.Zeros(new[] { batch, config.NHeads, config.HeadDim, config.DState }, DType.Float32, device).DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }

    /// <summary>Convolution inputs window [batch, conv_dim, d_conv].</summary>
    public Tensor ConvState { get; }

    /// <summary>SSM state h [batch, nheads, headdim, d_state].</summary>
    public Tensor SsmState { get; }

    /// <summary>Resets both states to zero.</summary>
    public void Reset()
    {
        ConvState.Zero();
        SsmState.Zero();
    }

    /// <summary>Releases the state tensors.</summary>
    public void Dispose()
    {
        ConvState.Dispose();
        SsmState.Dispose();
    }
}
