using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

// Multi-dimensional damped EMA, the SSM branch of MEGA (Ma et al., "Mega: Moving Average Equipped Gated Attention",
// 2022, facebookresearch/mega fairseq/modules/exponential_moving_average.py) used by LongVQ. Per channel d and EMA
// dimension n (N of them), with p = σ(delta), α = σ(alpha), q = 1 − p·α ∈ (0, 1):
//   h_t[n] = q_n·h_{t−1}[n] + p_n·β_n·x_t,    y_t = Σ_n η_n·h_t[n]/√N,    out_t = SiLU(y_t + ω·x_t)
// i.e. a causal convolution with the kernel K[l] = Σ_n p_n·β_n·η_n/√N · q_n^l, computed here as a real-mode
// Vandermonde product (F.Vandermonde with modes ln q_n + 0i and coefficients p·β·η/(2√N)) and applied by FFT
// (F.FftConv). Bidirectional (for classification): a second set of parameters (rows D..2D−1) gives a kernel applied
// anti-causally, y_t += Σ_{s ≥ t} K₂[s − t]·x_s (computed as flip ∘ conv ∘ flip). Step form: the recurrence above.

/// <summary>
/// MEGA's damped EMA over x [batch, length, D]: parameters <c>delta</c>, <c>alpha</c>, <c>beta</c>, <c>gamma</c>
/// (η) [k·D, N] (k = 2 when bidirectional) and <c>omega</c> [D]. <see cref="Forward"/> is the FFT-convolution form;
/// <see cref="Step"/> the recurrence (unidirectional only).
/// </summary>
public sealed class DampedEma : Module
{
    /// <summary>Creates the layer with MEGA's initialization: delta, alpha ~ N(0, 0.2²), beta ~ N(±1, 0.02²) (signs alternating over n), gamma, omega ~ N(0, 1).</summary>
    public DampedEma(int dim, int emaDim, bool bidirectional, Rng rng, Device? device = null)
    {
        Guard.Positive("DampedEma", nameof(dim), dim);
        Guard.Positive("DampedEma", nameof(emaDim), emaDim);
        ArgumentNullException.ThrowIfNull(rng);
        Dim = dim;
        EmaDim = emaDim;
        Bidirectional = bidirectional;
        var d = device ?? Device.Default;
        int rows = bidirectional ? 2 * dim : dim;
        Delta = RegisterParameter("delta", new Parameter(rng.Normal(new[] { rows, emaDim }, 0, 0.2, d)));
        Alpha = RegisterParameter("alpha", new Parameter(rng.Normal(new[] { rows, emaDim }, 0, 0.2, d)));
        var beta = new float[rows * emaDim];
        rng.FillNormal(beta, 0, 0.02);
        for (int i = 0; i < beta.Length; i++) beta[i] += i % emaDim % 2 == 0 ? 1f : -1f;
        Beta = RegisterParameter("beta", new Parameter(Tensor.From(beta, new[] { rows, emaDim }, d)));
        Gamma = RegisterParameter("gamma", new Parameter(rng.Normal(new[] { rows, emaDim }, 0, 1, d)));
        Omega = RegisterParameter("omega", new Parameter(rng.Normal(new[] { dim }, 0, 1, d)));
    }

    /// <summary>Channels D.</summary>
    public int Dim { get; }
    /// <summary>EMA dimensions N per channel.</summary>
    public int EmaDim { get; }
    /// <summary>True when a second, anti-causal kernel is added (non-causal models).</summary>
    public bool Bidirectional { get; }
    /// <summary>Input rate logits (p = σ(delta)).</summary>
    public Parameter Delta { get; }
    /// <summary>Damping logits (α = σ(alpha); decay q = 1 − p·α).</summary>
    public Parameter Alpha { get; }
    /// <summary>Input expansion β.</summary>
    public Parameter Beta { get; }
    /// <summary>Output projection η.</summary>
    public Parameter Gamma { get; }
    /// <summary>Skip weight ω.</summary>
    public Parameter Omega { get; }

    /// <summary>True for the EMA parameters (no weight decay, like SSM parameters), by dotted name.</summary>
    public static bool IsEmaParameter(string name) =>
        name.EndsWith("ema.delta", StringComparison.Ordinal) || name.EndsWith("ema.alpha", StringComparison.Ordinal)
        || name.EndsWith("ema.beta", StringComparison.Ordinal) || name.EndsWith("ema.gamma", StringComparison.Ordinal)
        || name.EndsWith("ema.omega", StringComparison.Ordinal);

    /// <summary>SiLU(EMA(x) + ω·x) for x [batch, length, D].</summary>
    public Variable Forward(Variable x)
    {
        Guard.Rank("DampedEma.Forward", x.Data, "x", 3, "[batch, length, D]");
        Guard.Shape("DampedEma.Forward", x.Data, "x", new[] { -1, -1, Dim }, $"[batch, length, {Dim}] (D)");
        int batch = x.Size(0), length = x.Size(1);
        if (batch * length == 0) return F.Silu(F.Mul(x, Omega));
        var kernel = Kernel(length);                                                   // [k·D, L]
        var y = Convolve(x, F.Narrow(kernel, 0, 0, Dim));
        if (Bidirectional)
        {
            var flip = FlipIds(batch, length, x.Device);
            y = F.Add(y, Flip(Convolve(Flip(x, flip), F.Narrow(kernel, 0, Dim, Dim)), flip));
        }
        return F.Silu(F.Add(y, F.Mul(x, Omega)));
    }

    /// <summary>A zero recurrent state [batch, D, N].</summary>
    public Tensor AllocateState(int batch)
    {
        if (Bidirectional) throw new InvalidOperationException("DampedEma.AllocateState: a bidirectional EMA has no recurrent form.");
        return Tensor.Zeros(new[] { batch, Dim, EmaDim }, DType.Float32, Omega.Device).DetachFromScope();
    }

    /// <summary>One step for xt [batch, D]: advances <paramref name="state"/> [batch, D, N] in place and returns SiLU(y_t + ω·x_t) [batch, D].</summary>
    public Tensor Step(Tensor state, Tensor xt)
    {
        if (Bidirectional) throw new InvalidOperationException("DampedEma.Step: a bidirectional EMA has no recurrent form.");
        int batch = state.Size(0);
        Guard.Shape("DampedEma.Step", state, "state", new[] { -1, Dim, EmaDim }, $"[batch, {Dim}, {EmaDim}]");
        Guard.Shape("DampedEma.Step", xt, "xt", new[] { batch, Dim }, $"[{batch}, {Dim}] (batch, D)");
        using var noGrad = Autograd.NoGrad();
        var (p, q) = Coefficients();
        var input = F.Mul(p, Beta).Data;                                               // p·β [D, N]
        var next = Elementwise.Add(Elementwise.Mul(state, q.Data), Elementwise.Mul(xt.Reshape(batch, Dim, 1), input));
        state.CopyFrom(next);
        var eta = Elementwise.Scale(Gamma.Data, 1f / MathF.Sqrt(EmaDim));
        var y = Reductions.Sum(Elementwise.Mul(state, eta), 2);                        // [batch, D]
        return Elementwise.Unary(UnaryOp.Silu, Elementwise.Add(y, Elementwise.Mul(xt, Omega.Data)));
    }

    /// <summary>p = σ(delta) and q = 1 − σ(delta)·σ(alpha), both [k·D, N].</summary>
    private (Variable P, Variable Q) Coefficients()
    {
        var p = F.Sigmoid(Delta);
        return (p, F.Affine(F.Mul(p, F.Sigmoid(Alpha)), -1f, 1f));
    }

    /// <summary>K [k·D, L]: K[d, l] = Σ_n p·β·η/√N · q^l (2·Re of the Vandermonde product with real modes).</summary>
    private Variable Kernel(int length)
    {
        var (p, q) = Coefficients();
        int rows = Delta.Size(0);
        var zeros = new Variable(Tensor.Zeros(new[] { rows, EmaDim, 1 }, DType.Float32, Delta.Device));
        var modes = F.Concat(new[] { F.Reshape(F.Log(q), rows, EmaDim, 1), zeros }, -1);
        var coefficients = F.Scale(F.Mul(F.Mul(p, Beta), Gamma), 0.5f / MathF.Sqrt(EmaDim));
        var c = F.Concat(new[] { F.Reshape(coefficients, rows, EmaDim, 1), zeros }, -1);
        return F.Vandermonde(modes, c, length);
    }

    /// <summary>Causal convolution of x [B, L, D] with k [D, L] along the length, as [B, L, D].</summary>
    private static Variable Convolve(Variable x, Variable k) => F.Transpose(F.FftConv(F.Transpose(x, 1, 2), k), 1, 2);

    /// <summary>Row ids that reverse each sequence of x [B, L, D] viewed as [B·L, D].</summary>
    private static Tensor FlipIds(int batch, int length, Device device)
    {
        var ids = new int[batch * length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < length; t++) ids[b * length + t] = b * length + length - 1 - t;
        return Tensor.From(ids, new[] { batch, length }, device);
    }

    /// <summary>x [B, L, D] reversed along L (a row gather; its gradient is the reverse gather).</summary>
    private static Variable Flip(Variable x, Tensor ids) => F.Embedding(ids, F.Reshape(x, -1, x.Size(2)));

    /// <inheritdoc />
    public override string ToString() => $"DampedEma(dim={Dim}, ndim={EmaDim}, bidirectional={Bidirectional})";
}
