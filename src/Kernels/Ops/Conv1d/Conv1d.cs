namespace Ssm.Kernels;

// Causal depthwise conv1d as in Mamba / Mamba-2 (nn.Conv1d with groups = channels, kernel W, padding W − 1, output cut to
// the input length; mamba_ssm/modules/mamba2.py), on channel-last input x[B, L, C] (the layout of Mamba-2's xBC before
// its transpose):
//   pre[b, t, c] = bias[c] + Σ_{k<W} w[c, k]·x[b, t − (W−1) + k, c]   (x at negative t: zero, or the initial state)
//   y = pre, or SiLU(pre) when fused.
// w[c, k] is PyTorch's conv1d.weight[c, 0, k] (shape (C, 1, W) reshaped to [C, W]); tap W−1 multiplies the current input.
// Backward with dpre = dy (⊙ SiLU′(pre)):  dx[b, s, c] = Σ_k w[c, k]·dpre[b, s + (W−1) − k, c]  (terms past L dropped),
//   dw[c, k] = Σ_{b,t} dpre[b, t, c]·x[b, t − (W−1) + k, c],  dbias[c] = Σ_{b,t} dpre[b, t, c].
// Recurrent form (mamba_ssm's conv_state (B, conv_dim, d_conv), oldest input first): the state holds the last W inputs;
// a step shifts it left, appends x_t and returns bias + Σ_k w[c, k]·state[b, c, k] (then SiLU).

/// <summary>Gradients from <see cref="Conv1d.Backward"/> (null where not requested).</summary>
/// <param name="Dx">dL/dx, shape [B, L, C].</param>
/// <param name="Dweight">dL/dweight, shape [C, W].</param>
/// <param name="Dbias">dL/dbias, shape [C].</param>
public sealed record Conv1dGradients(Tensor? Dx, Tensor? Dweight, Tensor? Dbias);

/// <summary>
/// Causal depthwise 1-d convolution (Mamba-2's conv1d) with optional fused SiLU, its backward, and the recurrent form used
/// for inference. Layouts: x [B, L, C] channel-last; weight [C, W] (PyTorch's conv1d.weight (C, 1, W) reshaped); bias [C];
/// state [B, C, W] holding the last W inputs, oldest first (mamba_ssm's conv_state). The output at step t is
/// bias[c] + Σ_k weight[c, k]·x[t − (W−1) + k, c]; inputs before the sequence are zero, or come from an initial state
/// (for chunked prefill: the state after the previous chunk, see <see cref="StateFromPrefix"/>).
/// CPU: rows (b, t) in parallel, SIMD over channels with the weight transposed to [W, C]. ILGPU: one thread per element;
/// weight/bias gradients from per-row-block partial sums and a second pass.
/// </summary>
public static class Conv1d
{
    /// <summary>
    /// y[b, t, c] = act(bias[c] + Σ_k weight[c, k]·x[b, t − (W−1) + k, c]) with act = SiLU when <paramref name="silu"/>.
    /// <paramref name="initialState"/> [B, C, W] (optional) supplies the inputs before t = 0 (its last W − 1 columns);
    /// without it they are zero.
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias = null, bool silu = false, Tensor? initialState = null)
    {
        var spec = Check("Conv1d.Forward", x, weight, bias, initialState, silu);
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) Conv1dGpu.Forward(spec, x, weight, bias, initialState, y);
        else Conv1dCpu.Forward(spec, x, weight, bias, initialState, y);
        return y;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> (same x, weight, bias, silu and initial state; the state gets no gradient):
    /// dx when <paramref name="inputGrad"/>, dweight when <paramref name="weightGrad"/>, dbias when <paramref name="biasGrad"/>.
    /// </summary>
    public static Conv1dGradients Backward(Tensor dy, Tensor x, Tensor weight, Tensor? bias = null, bool silu = false,
        Tensor? initialState = null, bool inputGrad = true, bool weightGrad = true, bool biasGrad = true)
    {
        const string op = "Conv1d.Backward";
        var spec = Check(op, x, weight, bias, initialState, silu);
        ArgumentNullException.ThrowIfNull(dy);
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, x, "x", dy, "dy");
        Guard.Shape(op, dy, "dy", x.Shape, "(the shape of x)");
        var dev = x.Device;
        var dx = inputGrad ? Tensor.Empty(x.Shape, DType.Float32, dev) : null;
        var dw = weightGrad ? Tensor.Zeros(weight.Shape, DType.Float32, dev) : null;
        var db = biasGrad ? Tensor.Zeros(new[] { spec.Channels }, DType.Float32, dev) : null;
        if (x.Length > 0 && (inputGrad || weightGrad || biasGrad))
        {
            if (dev.IsIlgpu) Conv1dGpu.Backward(spec, dy, x, weight, bias, initialState, dx, dw, db);
            else Conv1dCpu.Backward(spec, dy, x, weight, bias, initialState, dx, dw, db);
        }
        return new Conv1dGradients(dx, dw, db);
    }

    /// <summary>
    /// One recurrent step: shifts <paramref name="convState"/> [B, C, W] left by one, appends <paramref name="xt"/> [B, C]
    /// as its last column (in place), and returns y_t [B, C] = act(bias[c] + Σ_k weight[c, k]·state[b, c, k]).
    /// Running it over x[:, t, :] for t = 0, 1, … from a zero state gives <see cref="Forward"/> token by token.
    /// </summary>
    public static Tensor Step(Tensor convState, Tensor xt, Tensor weight, Tensor? bias = null, bool silu = false)
    {
        const string op = "Conv1d.Step";
        ArgumentNullException.ThrowIfNull(convState);
        ArgumentNullException.ThrowIfNull(xt);
        Guard.DType(op, xt, "xt", DType.Float32);
        Guard.Rank(op, xt, "xt", 2, "[batch, channels]");
        var (c, w) = CheckWeight(op, xt, xt.Size(1), weight, bias);
        Guard.DType(op, convState, "convState", DType.Float32);
        Guard.SameDevice(op, xt, "xt", convState, "convState");
        Guard.Shape(op, convState, "convState", new[] { xt.Size(0), c, w }, $"[batch, channels, width] (batch {xt.Size(0)} from xt, width {w} from weight)");
        var spec = new ConvSpec { Batch = xt.Size(0), Length = 1, Channels = c, Width = w, HasBias = bias is null ? 0 : 1, Silu = silu ? 1 : 0 };
        var y = Tensor.Empty(xt.Shape, DType.Float32, xt.Device);
        if (y.Length == 0) return y;
        if (xt.Device.IsIlgpu) Conv1dGpu.Step(spec, convState, xt, weight, bias, y);
        else Conv1dCpu.Step(spec, convState, xt, weight, bias, y);
        return y;
    }

    /// <summary>
    /// The state [B, C, width] after running over x [B, L, C]: its last <paramref name="width"/> inputs, oldest first
    /// (state[b, c, k] = x[b, L − width + k, c]). Positions before the sequence come from <paramref name="initialState"/>
    /// [B, C, width] when given, else zero (like mamba_ssm's left-padded conv_state after a prefill).
    /// </summary>
    public static Tensor StateFromPrefix(Tensor x, int width, Tensor? initialState = null)
    {
        const string op = "Conv1d.StateFromPrefix";
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        Guard.Rank(op, x, "x", 3, "[batch, length, channels]");
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, $"{op}: width is {width}, expected ≥ 1.");
        var spec = new ConvSpec { Batch = x.Size(0), Length = x.Size(1), Channels = x.Size(2), Width = width };
        CheckState(op, x, initialState, ref spec);
        var state = Tensor.Empty(new[] { spec.Batch, spec.Channels, width }, DType.Float32, x.Device);
        if (state.Length == 0) return state;
        if (x.Device.IsIlgpu) Conv1dGpu.StateFromPrefix(spec, x, initialState, state);
        else Conv1dCpu.StateFromPrefix(spec, x, initialState, state);
        return state;
    }

    private static ConvSpec Check(string op, Tensor x, Tensor weight, Tensor? bias, Tensor? initialState, bool silu)
    {
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        Guard.Rank(op, x, "x", 3, "[batch, length, channels]");
        var (c, w) = CheckWeight(op, x, x.Size(2), weight, bias);
        var spec = new ConvSpec
        {
            Batch = x.Size(0), Length = x.Size(1), Channels = c, Width = w, HasBias = bias is null ? 0 : 1, Silu = silu ? 1 : 0,
        };
        CheckState(op, x, initialState, ref spec);
        return spec;
    }

    private static (int channels, int width) CheckWeight(string op, Tensor x, int channels, Tensor weight, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(weight);
        Guard.DType(op, weight, "weight", DType.Float32);
        Guard.SameDevice(op, x, "x", weight, "weight");
        Guard.Shape(op, weight, "weight", new[] { channels, -1 }, $"[channels, width] (channels = {channels})");
        int w = weight.Size(1);
        if (w < 1)
            throw new ArgumentException($"{op}: weight has shape {Shapes.Format(weight.Shape)}, expected kernel width W ≥ 1 in [channels, W].", nameof(weight));
        if (bias is not null)
        {
            Guard.DType(op, bias, "bias", DType.Float32);
            Guard.SameDevice(op, x, "x", bias, "bias");
            Guard.Shape(op, bias, "bias", new[] { channels }, $"[channels] (channels = {channels})");
        }
        return (channels, w);
    }

    private static void CheckState(string op, Tensor x, Tensor? state, ref ConvSpec spec)
    {
        if (state is null) return;
        Guard.DType(op, state, "initialState", DType.Float32);
        Guard.SameDevice(op, x, "x", state, "initialState");
        Guard.Shape(op, state, "initialState", new[] { spec.Batch, spec.Channels, spec.Width }, "[batch, channels, width]");
        spec.HasState = 1;
    }
}

/// <summary>Sizes and flags of one conv1d call (also the ILGPU kernel parameter).</summary>
internal struct ConvSpec
{
    /// <summary>B.</summary>
    public int Batch;
    /// <summary>L (1 for a step).</summary>
    public int Length;
    /// <summary>C.</summary>
    public int Channels;
    /// <summary>Kernel width W.</summary>
    public int Width;
    /// <summary>1 when a bias is added.</summary>
    public int HasBias;
    /// <summary>1 when an initial state supplies the inputs before t = 0.</summary>
    public int HasState;
    /// <summary>1 when SiLU is applied to the output.</summary>
    public int Silu;
}
