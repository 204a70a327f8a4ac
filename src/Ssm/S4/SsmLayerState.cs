using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// Recurrent state of one <see cref="ConvolutionalSsmLayer{TState}"/>: x [batch, H, N/2, 2], the stored half of each
/// conjugate pair of modes (complex as (re, im)). Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public abstract class SsmLayerState : IDisposable
{
    private protected SsmLayerState(string owner, int batch, int h, int modes, Device device)
    {
        Guard.Positive(owner, nameof(batch), batch);
        Batch = batch;
        State = Tensor.Zeros(new[] { batch, h, modes, 2 }, DType.Float32, device).DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }

    /// <summary>x [batch, H, N/2, 2].</summary>
    public Tensor State { get; }

    /// <summary>Resets the state x to zero.</summary>
    public void Reset() => State.Zero();

    /// <summary>Releases the state's tensors.</summary>
    public virtual void Dispose() => State.Dispose();
}
