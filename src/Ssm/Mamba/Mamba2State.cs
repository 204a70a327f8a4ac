using Ssm.Kernels;

namespace Ssm.Mamba;

/// <summary>
/// Recurrent inference state of one Mamba-2 mixer (mamba_ssm's inference cache): <see cref="ConvState"/>
/// [batch, conv_dim, d_conv] (the last d_conv inputs of the convolution, oldest first) and <see cref="SsmState"/>
/// [batch, nheads, headdim, d_state], plus what the state-collapse diagnostics and mitigations need: the tokens
/// consumed, the log-retention of the first token, and (under the sliding-window mitigation) the window of recent
/// tokens. Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public sealed class Mamba2State : IDisposable
{
    private readonly Mamba2Config _config;

    /// <summary>Zero state for <paramref name="batch"/> sequences.</summary>
    public Mamba2State(Mamba2Config config, int batch, Device device)
    {
        ArgumentNullException.ThrowIfNull(config);
        Guard.Positive("Mamba2State", nameof(batch), batch);
        _config = config;
        Batch = batch;
        ConvState = Tensor.Zeros(new[] { batch, config.ConvDim, config.DConv }, DType.Float32, device).DetachFromScope();
        SsmState = Tensor.Zeros(new[] { batch, config.NHeads, config.HeadDim, config.DState }, DType.Float32, device).DetachFromScope();
        LogRetention = Tensor.Zeros(new[] { batch, config.NHeads }, DType.Float32, device).DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }

    /// <summary>Convolution inputs window [batch, conv_dim, d_conv].</summary>
    public Tensor ConvState { get; }

    /// <summary>SSM state h [batch, nheads, headdim, d_state].</summary>
    public Tensor SsmState { get; }

    /// <summary>
    /// ln α_{1:t} [batch, nheads]: Σ_s Δ_s·a over every token this state consumed (with RRI's shifted decay when it was
    /// on), so exp of it is the weight the first token still has in h_t — the retention Stuffed Mamba plots.
    /// </summary>
    public Tensor LogRetention { get; }

    /// <summary>Tokens consumed since allocation or <see cref="Reset"/>.</summary>
    public long Tokens { get; private set; }

    /// <summary>The sliding window of recent tokens (only while the window mitigation is in use).</summary>
    internal StateWindow? Window { get; private set; }

    /// <summary>
    /// The state the output reads, as a new tensor [batch, nheads, headdim, d_state]: under the sliding-window
    /// mitigation h_t − α_{t−r+1:t}·h_{t−r} (the recurrence restarted r tokens back), otherwise a copy of
    /// <see cref="SsmState"/>.
    /// </summary>
    public Tensor ReadoutState() => Window is { } w ? w.Readout(SsmState) : SsmState.Clone();

    /// <summary>Resets every part of the state to that of a fresh allocation.</summary>
    public void Reset()
    {
        ConvState.Zero();
        SsmState.Zero();
        LogRetention.Zero();
        Tokens = 0;
        Window?.Dispose();
        Window = null;
    }

    /// <summary>Before a scan under <paramref name="mitigation"/>: creates, checks or drops the window.</summary>
    internal void PrepareFor(StateMitigation mitigation)
    {
        if (mitigation.Kind != StateMitigationKind.Window)
        {
            Window?.Dispose();
            Window = null;
            return;
        }
        if (Window is { } w)
        {
            if (w.Radius != mitigation.Window)
                throw new InvalidOperationException(
                    $"Mamba2State: the state holds a window of {w.Radius} tokens but the mitigation asks for {mitigation.Window}; Reset() the state (or allocate a new one) to change the window.");
            return;
        }
        if (Tokens > 0)
            throw new InvalidOperationException(
                $"Mamba2State: the sliding-window mitigation needs the state's history from its first token, but {Tokens} tokens were consumed without it; Reset() the state (or allocate a new one) first.");
        Window = new StateWindow(_config, Batch, mitigation.Window, SsmState.Device, SsmState);
    }

    /// <summary>
    /// After a scan: stores the final state and adds Σ_t Δ_t·a of the consumed tokens (<paramref name="dt"/>
    /// [batch, length, nheads]) to the retention.
    /// </summary>
    internal void Advance(Tensor finalState, Tensor dt, Tensor a)
    {
        SsmState.CopyFrom(finalState);
        Elementwise.Axpy(1f, Elementwise.Mul(Reductions.Sum(dt, 1), a), LogRetention);
        Tokens += dt.Size(1);
    }

    /// <summary>After a fused one-token step that already updated <see cref="SsmState"/> and <see cref="LogRetention"/> in place.</summary>
    internal void SteppedInPlace() => Tokens++;

    /// <summary>Releases the state tensors.</summary>
    public void Dispose()
    {
        ConvState.Dispose();
        SsmState.Dispose();
        LogRetention.Dispose();
        Window?.Dispose();
    }
}
