using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// Recurrent state of one <see cref="S4D"/> layer: x [batch, H, N/2, 2], the stored half of each conjugate pair of
/// modes (complex as (re, im)), in s4d.py's convention x′ = Ā∘x + B̄·u, y = 2·Re(C·x′) + D·u. Owned by the caller
/// (outside tensor scopes); dispose when done.
/// </summary>
public sealed class S4DState : SsmLayerState
{
    internal S4DState(int batch, int h, int modes, Device device) : base("S4DState", batch, h, modes, device)
    {
    }
}
