using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// Recurrent state of one <see cref="S4D"/> layer: x [batch, H, N/2, 2], the stored half of each conjugate pair of
/// modes (complex as (re, im)), in s4d.py's convention x′ = Ā∘x + B̄·u, y = 2·Re(C·x′) + D·u. Owned by the caller
/// (outside tensor scopes); dispose when done.
/// </summary>
public sealed class S4DState : IDisposable
{
    internal S4DState(int batch, int h, int modes, Device device)
    {
        Guard.Positive("S4DState", nameof(batch), batch);
        Batch = batch;
        State = Tensor.Zeros(new[] { batch, h, modes, 2 }, DType.Float32, device).DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }

    /// <summary>x [batch, H, N/2, 2].</summary>
    public Tensor State { get; }

    /// <summary>Resets the state to zero.</summary>
    public void Reset() => State.Zero();

    /// <summary>Releases the state tensor.</summary>
    public void Dispose() => State.Dispose();
}
