using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>An SSD scan benchmark shape (cases.json's "ssd_scan"): one group of B and C shared by all heads.</summary>
public sealed record SsdScanShape(int Batch, int Length, int Heads, int HeadDim, int DState, int Chunk)
{
    /// <summary>
    /// Bytes the forward must move at least: x, Δ, B, C read once, y and the final state written once (float32).
    /// </summary>
    public double Bytes => 4.0 * (2.0 * Batch * Length * Heads * HeadDim + (double)Batch * Length * Heads
        + 2.0 * Batch * Length * DState + (double)Batch * Heads * HeadDim * DState);

    /// <summary>Bytes the backward must move at least: x, Δ, B, C, dy read; dx, dΔ, dB, dC written (float32).</summary>
    public double BackwardBytes => 4.0 * (4.0 * Batch * Length * Heads * HeadDim + 2.0 * Batch * Length * Heads
        + 4.0 * Batch * Length * DState);

    /// <summary>Bytes one fused step must move at least: the state read and written, one token's x, Δ, B, C, y.</summary>
    public double StepBytes => 4.0 * (2.0 * Batch * Heads * HeadDim * DState + 2.0 * Batch * Heads * HeadDim
        + (double)Batch * Heads + 2.0 * Batch * DState);

    /// <summary>
    /// Flops of the chunked forward: per (token, head) Q/2·P multiply-adds for the diagonal block and 2·P·N for the
    /// chunk state and the state→output term; per (token, group) Q/2·N for C·Bᵀ.
    /// </summary>
    public double Flops => 2.0 * Batch * Length * (Heads * (Chunk / 2.0 * HeadDim + 2.0 * HeadDim * DState) + Chunk / 2.0 * DState);

    /// <inheritdoc />
    public override string ToString() => $"B{Batch} L{Length} H{Heads} P{HeadDim} N{DState} Q{Chunk}";
}

/// <summary>Random SSD inputs (Δ = softplus(N(0,1) − 4), a = −exp(U[0,1]), like ssd_minimal's test) and the timed calls.</summary>
public sealed class SsdScanWorkload : IDisposable
{
    private readonly SsdScanShape _s;
    private readonly Tensor _x, _dt, _a, _b, _c, _d, _dy, _state;

    /// <summary>Draws the inputs on <paramref name="device"/> (default: CPU).</summary>
    public SsdScanWorkload(SsdScanShape shape, Device? device = null)
    {
        _s = shape;
        var rng = new Rng(7);
        var d = device ?? Device.Cpu;
        _x = rng.Normal(new[] { shape.Batch, shape.Length, shape.Heads, shape.HeadDim }, device: d);
        using (var raw = rng.Normal(new[] { shape.Batch, shape.Length, shape.Heads }, device: d))
        using (var shifted = Elementwise.Affine(raw, 1f, -4f))
            _dt = Elementwise.Unary(UnaryOp.Softplus, shifted);
        using (var u = rng.Uniform(new[] { shape.Heads }, 0, 1, d))
        using (var e = Elementwise.Unary(UnaryOp.Exp, u))
            _a = Elementwise.Scale(e, -1f);
        _b = rng.Normal(new[] { shape.Batch, shape.Length, 1, shape.DState }, device: d);
        _c = rng.Normal(new[] { shape.Batch, shape.Length, 1, shape.DState }, device: d);
        _d = rng.Normal(new[] { shape.Heads }, device: d);
        _dy = rng.Normal(_x.Shape, device: d);
        _state = Tensor.Zeros(new[] { shape.Batch, shape.Heads, shape.HeadDim, shape.DState }, DType.Float32, d);
    }

    /// <summary>The chunked forward (y and the final state).</summary>
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        SsdScan.Forward(_x, _dt, _a, _b, _c, _d, null, _s.Chunk);
    }

    /// <summary>The hand-written backward for a random dy (recomputes the forward's chunk states).</summary>
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        SsdScan.Backward(_x, _dt, _a, _b, _c, _d, null, _s.Chunk, _dy, null);
    }

    /// <summary>One fused decoding step on token 0's inputs, from a carried state [batch, heads, headdim, state].</summary>
    public void Step()
    {
        using var scope = TensorScope.Begin();
        var x = Layout.Narrow(_x, 1, 0, 1).Reshape(_s.Batch, _s.Heads, _s.HeadDim);
        var dt = Layout.Narrow(_dt, 1, 0, 1).Reshape(_s.Batch, _s.Heads);
        var b = Layout.Narrow(_b, 1, 0, 1).Reshape(_s.Batch, 1, _s.DState);
        var c = Layout.Narrow(_c, 1, 0, 1).Reshape(_s.Batch, 1, _s.DState);
        SsdScan.Step(_state, x, dt, _a, b, c, _d);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in new[] { _x, _dt, _a, _b, _c, _d, _dy, _state }) t.Dispose();
    }
}
