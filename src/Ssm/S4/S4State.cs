using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// Recurrent state of one <see cref="S4Block"/>: x [batch, H, N/2, 2] (stored halves of the conjugate pairs, complex as
/// (re, im)) and the recurrence's C [H, N/2, 2], recovered from C̃ when the state was allocated (re-allocate after the
/// parameters change). Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public sealed class S4State : SsmLayerState
{
    internal S4State(int batch, int h, int modes, Tensor stepC) : base("S4State", batch, h, modes, stepC.Device)
    {
        StepC = stepC.DetachFromScope();
    }

    /// <summary>The recurrence's C [H, N/2, 2] (not C̃).</summary>
    public Tensor StepC { get; }

    /// <summary>Releases the tensors.</summary>
    public override void Dispose()
    {
        base.Dispose();
        StepC.Dispose();
    }
}
