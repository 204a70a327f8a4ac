using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// Recurrent state of one <see cref="S4Block"/>: x [batch, H, N/2, 2] (stored halves of the conjugate pairs, complex as
/// (re, im)) and the recurrence's C [H, N/2, 2], recovered from C̃ when the state was allocated (re-allocate after the
/// parameters change). Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public sealed class S4State : IDisposable
{
    internal S4State(int batch, int h, int modes, Tensor stepC)
    {
        Guard.Positive("S4State", nameof(batch), batch);
        Batch = batch;
        State = Tensor.Zeros(new[] { batch, h, modes, 2 }, DType.Float32, stepC.Device).DetachFromScope();
        StepC = stepC.DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }

    /// <summary>x [batch, H, N/2, 2].</summary>
    public Tensor State { get; }

    /// <summary>The recurrence's C [H, N/2, 2] (not C̃).</summary>
    public Tensor StepC { get; }

    /// <summary>Resets the state x to zero.</summary>
    public void Reset() => State.Zero();

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        State.Dispose();
        StepC.Dispose();
    }
}
