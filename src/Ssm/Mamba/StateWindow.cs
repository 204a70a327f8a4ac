using Ssm.Kernels;

namespace Ssm.Mamba;

// Sliding window by state difference (Stuffed Mamba, Section 5): the output reads
//   h_t^(r) = h_t − α_{t−r+1:t}·h_{t−r},   α_{t−r+1:t} = exp(Σ_{s=t−r+1..t} Δ_s a),
// which is exactly the state of the linear recurrence restarted (from zero) r tokens back. Streaming form: besides h_t,
// keep the lagged state h_{t−r} and the scan inputs (x, Δ, B) of the last r tokens. For a chunk of L new tokens:
//   1. y_t = h_t C_t + D x_t by the ordinary scan from h;
//   2. the lagged scan runs over the inputs delayed by r tokens (the r cached ones, then the chunk's first L − r) from
//      h_{t−r}, read out with the chunk's own C_t: y'_t = h_{t−r} C_t — and ends at the new lagged state;
//   3. y_t^(r) = y_t − α_{t−r+1:t}·y'_t, with the log-decays Σ Δ_s a summed in double precision over the cached and new
//      tokens (log-space sums restarted every call, never a running product of α).
// Before the stream's first token the cache holds identity steps (Δ = 0, x = 0, B = 0): they neither decay nor insert,
// so while t ≤ r the lagged state stays at the initial state h_0 and h_t^(r) = h_t − α_{1:t}·h_0.

/// <summary>The window of the last r tokens that the sliding-window mitigation keeps per Mamba-2 layer.</summary>
internal sealed class StateWindow : IDisposable
{
    private readonly Tensor _lag, _x, _dt, _b;
    private readonly double[] _logDecay; // [batch, r, heads]: Δ·a of the cached tokens (0 for identity steps)
    private readonly int _batch, _heads;

    /// <summary>An empty window (identity steps only) whose lagged state starts at <paramref name="initialState"/> (null: zero).</summary>
    public StateWindow(Mamba2Config config, int batch, int radius, Device device, Tensor? initialState = null)
    {
        Radius = radius;
        _batch = batch;
        _heads = config.NHeads;
        _lag = Tensor.Zeros(new[] { batch, config.NHeads, config.HeadDim, config.DState }, DType.Float32, device).DetachFromScope();
        _x = Tensor.Zeros(new[] { batch, radius, config.NHeads, config.HeadDim }, DType.Float32, device).DetachFromScope();
        _dt = Tensor.Zeros(new[] { batch, radius, config.NHeads }, DType.Float32, device).DetachFromScope();
        _b = Tensor.Zeros(new[] { batch, radius, config.NGroups, config.DState }, DType.Float32, device).DetachFromScope();
        _logDecay = new double[batch * radius * config.NHeads];
        if (initialState is not null) _lag.CopyFrom(initialState);
    }

    /// <summary>r: the tokens the output's state covers.</summary>
    public int Radius { get; }

    /// <summary>
    /// The scan over one chunk (shapes as <see cref="SsdScan.Forward"/>), reading out the windowed state; advances the
    /// lagged state and the cached inputs. Returns y and the full (unwindowed) final state h.
    /// </summary>
    public (Tensor Y, Tensor FinalState) Scan(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor D, Tensor? initialState, int chunk)
    {
        int length = x.Size(1), r = Radius;
        var (y, final) = SsdScan.Forward(x, dt, a, B, C, D, initialState, chunk);
        var (yLag, lagFinal) = SsdScan.Forward(Delayed(_x, x), Delayed(_dt, dt), a, Delayed(_b, B), C, null, _lag, chunk);

        // Log-decays of the cached then the new tokens, per (batch, head); coefficient of token j = exp(Σ over its window).
        float[] dts = dt.ToArray(), As = a.ToArray();
        var coef = new float[_batch * length * _heads];
        var sequence = new double[r + length];
        var prefix = new double[r + length + 1];
        for (int bi = 0; bi < _batch; bi++)
        for (int h = 0; h < _heads; h++)
        {
            for (int i = 0; i < r; i++) sequence[i] = _logDecay[(bi * r + i) * _heads + h];
            for (int t = 0; t < length; t++) sequence[r + t] = (double)dts[(bi * length + t) * _heads + h] * As[h];
            for (int i = 0; i < sequence.Length; i++) prefix[i + 1] = prefix[i] + sequence[i];
            for (int t = 0; t < length; t++) coef[(bi * length + t) * _heads + h] = (float)Math.Exp(prefix[r + t + 1] - prefix[t + 1]);
            for (int i = 0; i < r; i++) _logDecay[(bi * r + i) * _heads + h] = sequence[length + i];
        }
        var coefT = Tensor.From(coef, new[] { _batch, length, _heads, 1 }, x.Device);
        var yWindow = Elementwise.Sub(y, Elementwise.Mul(coefT, yLag));

        _lag.CopyFrom(lagFinal);
        _x.CopyFrom(Recent(_x, x));
        _dt.CopyFrom(Recent(_dt, dt));
        _b.CopyFrom(Recent(_b, B));
        return (yWindow, final);
    }

    /// <summary>h_t − α_{t−r+1:t}·h_{t−r} for the current full state <paramref name="state"/> (a new tensor).</summary>
    public Tensor Readout(Tensor state)
    {
        int r = Radius;
        var coef = new float[_batch * _heads];
        for (int bi = 0; bi < _batch; bi++)
        for (int h = 0; h < _heads; h++)
        {
            double sum = 0;
            for (int i = 0; i < r; i++) sum += _logDecay[(bi * r + i) * _heads + h];
            coef[bi * _heads + h] = (float)Math.Exp(sum);
        }
        var coefT = Tensor.From(coef, new[] { _batch, _heads, 1, 1 }, state.Device);
        return Elementwise.Sub(state, Elementwise.Mul(coefT, _lag));
    }

    // Inputs delayed by r tokens for a chunk: the cached ones, then the chunk's first L − r.
    private Tensor Delayed(Tensor cached, Tensor chunk)
    {
        int length = chunk.Size(1), r = Radius;
        return length <= r ? Layout.Narrow(cached, 1, 0, length) : Layout.Concat(new[] { cached, Layout.Narrow(chunk, 1, 0, length - r) }, 1);
    }

    // The last r tokens' inputs after a chunk.
    private Tensor Recent(Tensor cached, Tensor chunk)
    {
        int length = chunk.Size(1), r = Radius;
        return length >= r ? Layout.Narrow(chunk, 1, length - r, r) : Layout.Concat(new[] { Layout.Narrow(cached, 1, length, r - length), chunk }, 1);
    }

    public void Dispose()
    {
        _lag.Dispose();
        _x.Dispose();
        _dt.Dispose();
        _b.Dispose();
    }
}
