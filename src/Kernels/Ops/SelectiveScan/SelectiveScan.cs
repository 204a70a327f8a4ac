namespace Ssm.Kernels;

/// <summary>
/// The Mamba-1 selective scan ("Mamba: Linear-Time Sequence Modeling with Selective State Spaces", Gu &amp; Dao 2023;
/// state-spaces/mamba selective_scan_interface.py selective_scan_ref and csrc/selective_scan). Per batch b and channel
/// d, with a diagonal state h ∈ R^N:
/// <code>
///   h_t = exp(Δ_t A_d) ⊙ h_{t−1} + Δ_t u_t B_t,   y_t = C_t·h_t + D_d u_t,   out_t = y_t · SiLU(z_t) (when z is given)
/// </code>
/// Layout is channel-last: u, Δ, z [batch, length, channels]; A [channels, state] (negative); B, C [batch, length,
/// state] (shared by all channels); D [channels]; states [batch, channels, state]. The backward runs the adjoint
/// recurrence in reverse time, recomputing the states segment by segment from checkpoints.
/// </summary>
public static class SelectiveScan
{
    /// <summary>
    /// The scan. Returns out [batch, length, channels] (y, gated by SiLU(z) when <paramref name="z"/> is given) and the
    /// state after the last step [batch, channels, state]. <paramref name="initialState"/> null means zeros.
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Forward(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? initialState = null)
    {
        var s = Check("SelectiveScan.Forward", u, delta, A, B, C, D, z, initialState);
        var y = Tensor.Empty(u.Shape, DType.Float32, u.Device);
        var final = Tensor.Empty(new[] { s.Batch, s.Channels, s.State }, DType.Float32, u.Device);
        if (u.Device.IsIlgpu) SelectiveScanGpu.Forward(s, u, delta, A, B, C, D, z, initialState, y, final);
        else SelectiveScanCpu.Forward(s, u, delta, A, B, C, D, z, initialState, y, final);
        return (y, final);
    }

    /// <summary>
    /// Gradients given dL/d(out) (<paramref name="dy"/>) and dL/d(final state) (<paramref name="dFinalState"/>); either
    /// may be null (zero). The other arguments are the forward's.
    /// </summary>
    public static SelectiveScanGradients Backward(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z,
        Tensor? initialState, Tensor? dy, Tensor? dFinalState)
    {
        const string op = "SelectiveScan.Backward";
        var s = Check(op, u, delta, A, B, C, D, z, initialState);
        if (dy is not null) CheckTensor(op, u, dy, "dy", u.Shape.ToArray(), "[batch, length, channels] (like u)");
        if (dFinalState is not null)
            CheckTensor(op, u, dFinalState, "dFinalState", new[] { s.Batch, s.Channels, s.State }, "[batch, channels, state]");
        var dev = u.Device;
        var g = new SelectiveScanGradients(
            Tensor.Empty(u.Shape, DType.Float32, dev),
            Tensor.Empty(delta.Shape, DType.Float32, dev),
            Tensor.Empty(A.Shape, DType.Float32, dev),
            Tensor.Zeros(B.Shape, DType.Float32, dev),
            Tensor.Zeros(C.Shape, DType.Float32, dev),
            D is null ? null : Tensor.Empty(D.Shape, DType.Float32, dev),
            z is null ? null : Tensor.Empty(z.Shape, DType.Float32, dev),
            initialState is null ? null : Tensor.Empty(initialState.Shape, DType.Float32, dev));
        if (dev.IsIlgpu) SelectiveScanGpu.Backward(s, u, delta, A, B, C, D, z, initialState, dy, dFinalState, g);
        else SelectiveScanCpu.Backward(s, u, delta, A, B, C, D, z, initialState, dy, dFinalState, g);
        return g;
    }

    /// <summary>The plain recurrence in double precision on the host (a test oracle); results are on the inputs' device.</summary>
    public static (Tensor Y, Tensor FinalState) Reference(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? initialState = null)
    {
        var s = Check("SelectiveScan.Reference", u, delta, A, B, C, D, z, initialState);
        float[] us = u.ToArray(), ds = delta.ToArray(), As = A.ToArray(), Bs = B.ToArray(), Cs = C.ToArray();
        float[]? Ds = D?.ToArray(), zs = z?.ToArray(), h0 = initialState?.ToArray();
        int L = s.Length, Ch = s.Channels, N = s.State;
        var y = new float[us.Length];
        var final = new float[s.Batch * Ch * N];
        var h = new double[N];
        for (int b = 0; b < s.Batch; b++)
        for (int d = 0; d < Ch; d++)
        {
            int so = (b * Ch + d) * N;
            for (int k = 0; k < N; k++) h[k] = h0 is null ? 0 : h0[so + k];
            for (int t = 0; t < L; t++)
            {
                int i = (b * L + t) * Ch + d, bo = (b * L + t) * N;
                double dt = ds[i], acc = Ds is null ? 0 : Ds[d] * (double)us[i];
                for (int k = 0; k < N; k++)
                {
                    h[k] = Math.Exp(dt * As[d * N + k]) * h[k] + dt * us[i] * Bs[bo + k];
                    acc += Cs[bo + k] * h[k];
                }
                if (zs is not null) acc *= zs[i] / (1 + Math.Exp(-zs[i]));
                y[i] = (float)acc;
            }
            for (int k = 0; k < N; k++) final[so + k] = (float)h[k];
        }
        return (Tensor.From(y, u.Shape, u.Device), Tensor.From(final, new[] { s.Batch, Ch, N }, u.Device));
    }

    private static ScanDims Check(string op, Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? initialState)
    {
        Guard.DType(op, u, "u", DType.Float32);
        Guard.Rank(op, u, "u", 3, "[batch, length, channels]");
        int batch = u.Size(0), length = u.Size(1), channels = u.Size(2);
        CheckTensor(op, u, delta, "delta", new[] { batch, length, channels }, "[batch, length, channels] (like u)");
        Guard.Rank(op, A, "A", 2, "[channels, state]");
        CheckTensor(op, u, A, "A", new[] { channels, -1 }, "[channels, state]");
        int state = A.Size(1);
        CheckTensor(op, u, B, "B", new[] { batch, length, state }, "[batch, length, state]");
        CheckTensor(op, u, C, "C", new[] { batch, length, state }, "[batch, length, state]");
        if (D is not null) CheckTensor(op, u, D, "D", new[] { channels }, "[channels]");
        if (z is not null) CheckTensor(op, u, z, "z", new[] { batch, length, channels }, "[batch, length, channels] (like u)");
        if (initialState is not null)
            CheckTensor(op, u, initialState, "initialState", new[] { batch, channels, state }, "[batch, channels, state]");
        return new ScanDims(batch, length, channels, state);
    }

    private static void CheckTensor(string op, Tensor u, Tensor t, string name, int[] shape, string layout)
    {
        Guard.SameDevice(op, u, "u", t, name);
        Guard.DType(op, t, name, DType.Float32);
        Guard.Shape(op, t, name, shape, layout);
    }
}

/// <summary>Gradients of <see cref="SelectiveScan.Backward"/>, each shaped like the corresponding forward input.</summary>
/// <param name="Du">dL/du [batch, length, channels].</param>
/// <param name="Ddelta">dL/dΔ [batch, length, channels].</param>
/// <param name="DA">dL/dA [channels, state].</param>
/// <param name="DB">dL/dB [batch, length, state].</param>
/// <param name="DC">dL/dC [batch, length, state].</param>
/// <param name="DD">dL/dD [channels], or null when D was null.</param>
/// <param name="Dz">dL/dz [batch, length, channels], or null when z was null.</param>
/// <param name="DInitialState">dL/d(initial state) [batch, channels, state], or null when it was null.</param>
public sealed record SelectiveScanGradients(Tensor Du, Tensor Ddelta, Tensor DA, Tensor DB, Tensor DC, Tensor? DD, Tensor? Dz,
    Tensor? DInitialState);

/// <summary>Sizes of one selective scan (also the ILGPU kernels' parameter block).</summary>
internal readonly struct ScanDims
{
    public readonly int Batch, Length, Channels, State;

    public ScanDims(int batch, int length, int channels, int state)
    {
        Batch = batch; Length = length; Channels = channels; State = state;
    }

    /// <summary>Offset of u[b, t, d] (also Δ, z, y).</summary>
    public int U(int b, int t, int d) => (b * Length + t) * Channels + d;

    /// <summary>Offset of B[b, t, 0] (also C).</summary>
    public int BC(int b, int t) => (b * Length + t) * State;

    /// <summary>Offset of a state [b, d, 0].</summary>
    public int StateAt(int b, int d) => (b * Channels + d) * State;
}
