namespace Ssm.Kernels;

/// <summary>
/// The Mamba-2 SSD scan ("Transformers are SSMs", Dao &amp; Gu 2024; state-spaces/mamba ssd_minimal.py and the
/// ssd_chunk_state / ssd_state_passing / ssd_chunk_scan Triton kernels). Per batch b and head h, with the state
/// s_t ∈ R^{P×N}:
/// <code>
///   s_t = exp(Δ_t·a_h)·s_{t−1} + Δ_t·x_t B_tᵀ,   y_t = s_t C_t + D_h·x_t
/// </code>
/// Heads share B and C within a group (head h uses group h / (heads / groups)). The scan is computed chunk by chunk
/// (chunk length Q, the last chunk may be shorter): cumulative sums of Δ·a inside each chunk, each chunk's own state,
/// the state passed across chunks, and per chunk the intra-chunk (diagonal-block) and state (off-diagonal) outputs.
/// Decays are always formed as exp(cum_i − cum_j) with j ≤ i inside one chunk, so no exponent is positive. The result
/// does not depend on the chunk length (up to rounding). The backward is hand-written and chunked as well.
/// </summary>
public static class SsdScan
{
    /// <summary>
    /// The chunked scan. Shapes: <paramref name="x"/> [batch, length, heads, headdim], <paramref name="dt"/>
    /// [batch, length, heads] (Δ, already positive, e.g. softplus'ed), <paramref name="a"/> [heads] (negative decay
    /// rates, A = −exp(A_log)), <paramref name="B"/> and <paramref name="C"/> [batch, length, groups, state],
    /// <paramref name="D"/> [heads] or null, <paramref name="initialState"/> [batch, heads, headdim, state] or null
    /// (zeros). Returns y [batch, length, heads, headdim] and the state after the last step
    /// [batch, heads, headdim, state].
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Forward(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? initialState, int chunk)
    {
        var dims = Check("SsdScan.Forward", x, dt, a, B, C, D, initialState, chunk);
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        var final = Tensor.Empty(new[] { dims.Batch, dims.Heads, dims.HeadDim, dims.State }, DType.Float32, x.Device);
        if (x.Device.IsIlgpu) SsdScanGpu.Forward(dims, x, dt, a, B, C, D, initialState, y, final);
        else SsdScanCpu.Forward(dims, x, dt, a, B, C, D, initialState, y, final);
        return (y, final);
    }

    /// <summary>
    /// Gradients of the scan given the gradient of y (<paramref name="dy"/>, null for zero) and of the final state
    /// (<paramref name="dFinalState"/>, null for zero); the other arguments are the forward's. Recomputes the forward's
    /// chunk states instead of storing anything of size length × chunk.
    /// </summary>
    public static SsdScanGradients Backward(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? initialState, int chunk, Tensor? dy, Tensor? dFinalState)
    {
        const string op = "SsdScan.Backward";
        var dims = Check(op, x, dt, a, B, C, D, initialState, chunk);
        if (dy is not null) CheckTensor(op, x, dy, "dy", x.Shape.ToArray(), "[batch, length, heads, headdim] (like x)");
        if (dFinalState is not null)
            CheckTensor(op, x, dFinalState, "dFinalState", new[] { dims.Batch, dims.Heads, dims.HeadDim, dims.State },
                "[batch, heads, headdim, state]");
        var dev = x.Device;
        var g = new SsdScanGradients(
            Tensor.Empty(x.Shape, DType.Float32, dev),
            Tensor.Empty(dt.Shape, DType.Float32, dev),
            Tensor.Empty(a.Shape, DType.Float32, dev),
            Tensor.Empty(B.Shape, DType.Float32, dev),
            Tensor.Empty(C.Shape, DType.Float32, dev),
            D is null ? null : Tensor.Empty(D.Shape, DType.Float32, dev),
            initialState is null ? null : Tensor.Empty(initialState.Shape, DType.Float32, dev));
        if (dev.IsIlgpu) SsdScanGpu.Backward(dims, x, dt, a, B, C, D, initialState, dy, dFinalState, g);
        else SsdScanCpu.Backward(dims, x, dt, a, B, C, D, initialState, dy, dFinalState, g);
        return g;
    }

    /// <summary>
    /// One recurrent step for a single token (decoding), fused in one kernel: per (batch b, head h), in place on
    /// <paramref name="state"/> [batch, heads, headdim, state],
    /// <code>
    ///   s ← exp(Δ·a_h)·s + Δ·x B_gᵀ,   y = s C_g + D_h·x        (g = h / (heads / groups))
    /// </code>
    /// Shapes: <paramref name="x"/> [batch, heads, headdim], <paramref name="dt"/> [batch, heads], <paramref name="a"/>
    /// [heads], <paramref name="B"/> and <paramref name="C"/> [batch, groups, state], <paramref name="D"/> [heads] or
    /// null. Δ = <paramref name="dt"/> (already positive) when <paramref name="dtBias"/> is null; with
    /// <paramref name="dtBias"/> [heads], <paramref name="dt"/> holds the raw values and Δ = softplus(dt + dtBias) is
    /// formed in the kernel (mamba_ssm's selective_state_update with dt_bias and dt_softplus). With
    /// <paramref name="logDecaySum"/> [batch, heads], the step's log-decay Δ·a_h is added to it in the same kernel (its
    /// running sum is the log-retention of the first token, for state diagnostics). Returns y [batch, heads, headdim].
    /// Equals <see cref="Forward"/> over a sequence of length 1 with the state as initial state.
    /// </summary>
    public static Tensor Step(Tensor state, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? dtBias = null,
        Tensor? logDecaySum = null)
    {
        const string op = "SsdScan.Step";
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        Guard.Rank(op, x, "x", 3, "[batch, heads, headdim]");
        int batch = x.Size(0), heads = x.Size(1), headdim = x.Size(2);
        CheckTensor(op, x, dt, "dt", new[] { batch, heads }, "[batch, heads]");
        CheckTensor(op, x, a, "a", new[] { heads }, "[heads]");
        Guard.Rank(op, B, "B", 3, "[batch, groups, state]");
        CheckTensor(op, x, B, "B", new[] { batch, -1, -1 }, "[batch, groups, state]");
        int groups = B.Size(1), n = B.Size(2);
        CheckTensor(op, x, C, "C", new[] { batch, groups, n }, "[batch, groups, state] (like B)");
        Guard.That(groups > 0 && heads % groups == 0, op, "B",
            $"heads ({heads}, dimension 1 of x) must be a multiple of groups ({groups}, dimension 1 of B).");
        if (D is not null) CheckTensor(op, x, D, "D", new[] { heads }, "[heads]");
        if (dtBias is not null) CheckTensor(op, x, dtBias, "dtBias", new[] { heads }, "[heads]");
        if (logDecaySum is not null) CheckTensor(op, x, logDecaySum, "logDecaySum", new[] { batch, heads }, "[batch, heads]");
        CheckTensor(op, x, state, "state", new[] { batch, heads, headdim, n }, "[batch, heads, headdim, state]");
        var d = new SsdStepDims(batch, heads, headdim, groups, n, D is not null, dtBias is not null, logDecaySum is not null);
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) SsdStepGpu.Step(d, state, x, dt, a, B, C, D, dtBias, logDecaySum, y);
        else SsdStepCpu.Step(d, state, x, dt, a, B, C, D, dtBias, logDecaySum, y);
        return y;
    }

    /// <summary>
    /// The plain sequential recurrence with double-precision state (a test oracle, slow): same arguments and results as
    /// <see cref="Forward"/> without the chunk length. Runs on the host; results are on the inputs' device.
    /// </summary>
    public static (Tensor Y, Tensor FinalState) Reference(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? initialState)
    {
        var d = Check("SsdScan.Reference", x, dt, a, B, C, D, initialState, 1);
        float[] xs = x.ToArray(), dts = dt.ToArray(), As = a.ToArray(), Bs = B.ToArray(), Cs = C.ToArray();
        float[]? Ds = D?.ToArray(), h0 = initialState?.ToArray();
        int L = d.Length, H = d.Heads, P = d.HeadDim, G = d.Groups, N = d.State, hpg = H / G;
        var y = new float[xs.Length];
        var final = new float[d.Batch * H * P * N];
        var s = new double[P * N];
        for (int b = 0; b < d.Batch; b++)
        for (int h = 0; h < H; h++)
        {
            int sOff = (b * H + h) * P * N, g = h / hpg;
            for (int k = 0; k < P * N; k++) s[k] = h0 is null ? 0 : h0[sOff + k];
            for (int t = 0; t < L; t++)
            {
                double delta = dts[(b * L + t) * H + h], decay = Math.Exp(delta * As[h]);
                int xo = ((b * L + t) * H + h) * P, bo = ((b * L + t) * G + g) * N;
                for (int p = 0; p < P; p++)
                {
                    double acc = 0;
                    for (int n = 0; n < N; n++)
                    {
                        ref double e = ref s[p * N + n];
                        e = decay * e + delta * xs[xo + p] * Bs[bo + n];
                        acc += e * Cs[bo + n];
                    }
                    y[xo + p] = (float)(acc + (Ds is null ? 0 : Ds[h] * (double)xs[xo + p]));
                }
            }
            for (int k = 0; k < P * N; k++) final[sOff + k] = (float)s[k];
        }
        return (Tensor.From(y, x.Shape, x.Device), Tensor.From(final, new[] { d.Batch, H, P, N }, x.Device));
    }

    internal static SsdDims Check(string op, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? initialState, int chunk)
    {
        Guard.DType(op, x, "x", DType.Float32);
        Guard.Rank(op, x, "x", 4, "[batch, length, heads, headdim]");
        int batch = x.Size(0), length = x.Size(1), heads = x.Size(2), headdim = x.Size(3);
        CheckTensor(op, x, dt, "dt", new[] { batch, length, heads }, "[batch, length, heads]");
        CheckTensor(op, x, a, "a", new[] { heads }, "[heads]");
        Guard.Rank(op, B, "B", 4, "[batch, length, groups, state]");
        CheckTensor(op, x, B, "B", new[] { batch, length, -1, -1 }, "[batch, length, groups, state]");
        int groups = B.Size(2), state = B.Size(3);
        CheckTensor(op, x, C, "C", new[] { batch, length, groups, state }, "[batch, length, groups, state] (like B)");
        Guard.That(groups > 0 && heads % groups == 0, op, "B",
            $"heads ({heads}, dimension 2 of x) must be a multiple of groups ({groups}, dimension 2 of B).");
        if (D is not null) CheckTensor(op, x, D, "D", new[] { heads }, "[heads]");
        if (initialState is not null)
            CheckTensor(op, x, initialState, "initialState", new[] { batch, heads, headdim, state }, "[batch, heads, headdim, state]");
        Guard.Positive(op, nameof(chunk), chunk);
        return new SsdDims(batch, length, heads, headdim, groups, state, chunk);
    }

    private static void CheckTensor(string op, Tensor x, Tensor t, string name, int[] shape, string layout)
    {
        Guard.SameDevice(op, x, "x", t, name);
        Guard.DType(op, t, name, DType.Float32);
        Guard.Shape(op, t, name, shape, layout);
    }
}

/// <summary>Gradients of <see cref="SsdScan.Backward"/>, each shaped like the corresponding forward input.</summary>
/// <param name="Dx">dL/dx [batch, length, heads, headdim].</param>
/// <param name="Ddt">dL/dΔ [batch, length, heads].</param>
/// <param name="Da">dL/da [heads].</param>
/// <param name="DB">dL/dB [batch, length, groups, state].</param>
/// <param name="DC">dL/dC [batch, length, groups, state].</param>
/// <param name="DD">dL/dD [heads], or null when D was null.</param>
/// <param name="DInitialState">dL/d(initial state) [batch, heads, headdim, state], or null when it was null.</param>
public sealed record SsdScanGradients(Tensor Dx, Tensor Ddt, Tensor Da, Tensor DB, Tensor DC, Tensor? DD, Tensor? DInitialState);

/// <summary>Sizes of one SSD scan (also the ILGPU kernels' parameter block).</summary>
internal readonly struct SsdDims
{
    public readonly int Batch, Length, Heads, HeadDim, Groups, State, Chunk, Chunks;

    public SsdDims(int batch, int length, int heads, int headdim, int groups, int state, int chunk)
    {
        Batch = batch; Length = length; Heads = heads; HeadDim = headdim; Groups = groups; State = state; Chunk = chunk;
        Chunks = (length + chunk - 1) / chunk;
    }

    public int HeadsPerGroup => Heads / Groups;

    /// <summary>Steps in chunk <paramref name="c"/> (the last one may be shorter).</summary>
    public int ChunkLength(int c) => Math.Min(Chunk, Length - c * Chunk);

    /// <summary>Offset of x[b, t, h, 0] (also y, dx, dy).</summary>
    public int X(int b, int t, int h) => ((b * Length + t) * Heads + h) * HeadDim;

    /// <summary>Offset of dt[b, t, h].</summary>
    public int Dt(int b, int t, int h) => (b * Length + t) * Heads + h;

    /// <summary>Offset of B[b, t, g, 0] (also C).</summary>
    public int BC(int b, int t, int g) => ((b * Length + t) * Groups + g) * State;

    /// <summary>Offset of a per-(batch, head) state [b, h, 0, 0].</summary>
    public int State0(int b, int h) => (b * Heads + h) * HeadDim * State;

    /// <summary>Offset of a per-chunk state [b, h, c, 0, 0] in a [batch, heads, chunks, headdim, state] buffer.</summary>
    public int ChunkState(int b, int h, int c) => ((b * Heads + h) * Chunks + c) * HeadDim * State;

    /// <summary>Offset of cum[b, h, c, 0] in a [batch, heads, chunks, chunk] buffer.</summary>
    public int Cum(int b, int h, int c) => ((b * Heads + h) * Chunks + c) * Chunk;
}

/// <summary>Sizes of one <see cref="SsdScan.Step"/> (also the ILGPU kernel's parameter block).</summary>
internal readonly struct SsdStepDims
{
    public readonly int Batch, Heads, HeadDim, Groups, State, HasD, HasDtBias, HasLogDecaySum;

    public SsdStepDims(int batch, int heads, int headdim, int groups, int state, bool hasD, bool hasDtBias, bool hasLogDecaySum)
    {
        Batch = batch; Heads = heads; HeadDim = headdim; Groups = groups; State = state;
        HasD = hasD ? 1 : 0;
        HasDtBias = hasDtBias ? 1 : 0;
        HasLogDecaySum = hasLogDecaySum ? 1 : 0;
    }

    /// <summary>Group of head <paramref name="h"/>.</summary>
    public int Group(int h) => h / (Heads / Groups);

    /// <summary>Δ from the dt input: softplus(raw + bias) when a dt bias was given, else raw.</summary>
    public float Delta(float raw, float bias) => HasDtBias != 0 ? ScalarMath.Softplus(raw + bias) : raw;
}
