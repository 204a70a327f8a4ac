using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.S4;

// S4D layer (s4d.py S4D): y = GLU(Conv1x1(dropout(GELU(K * u + D·u)))), K from S4DKernel, * the causal convolution
// irfft(rfft(u, 2L)·rfft(K, 2L))[:L] (F.FftConv; D folded into the lag-0 tap; the anti-causal second kernel when
// bidirectional).
// Recurrent form (same output): x_t = Ā∘x_{t−1} + B̄·u_t, y_t = 2·Re Σ C·x_t + D·u_t, then the same GELU/GLU head.

/// <summary>
/// The S4D layer of s4d.py with its parameter names (<c>D</c>, <c>kernel.C</c>, <c>kernel.log_dt</c>,
/// <c>kernel.log_A_real</c>, <c>kernel.A_imag</c>, <c>output_linear.0.weight</c> [2H, H, 1], <c>output_linear.0.bias</c>),
/// so its checkpoints load with <see cref="Module.LoadStateDict"/>. Input and output are [B, H, L] when
/// <see cref="S4DConfig.Transposed"/> (s4d.py's default) and [B, L, H] otherwise. Besides the convolutional
/// <see cref="Forward(Variable)"/> it has the recurrent form: <see cref="AllocateState"/>, <see cref="Step"/> and
/// chunked prefill <see cref="Forward(Variable, S4DState?)"/> (unidirectional layers only).
/// </summary>
public sealed class S4D : Module, IForward
{
    private readonly Rng _dropoutRng;

    /// <summary>Creates the layer (D ~ N(0, 1), the kernel's initialization, torch's Conv1d default for the output) from <paramref name="rng"/>.</summary>
    public S4D(S4DConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        int h = config.DModel;
        D = RegisterParameter("D", new Parameter(rng.Normal(new[] { h }, device: d)));
        Kernel = RegisterModule("kernel", new S4DKernel(config, rng, d));
        var projection = new PointwiseConv1d(h, 2 * h, rng, d);
        RegisterModule("output_linear", new ModuleList<Module>(new Module[] { projection }));
        OutputWeight = projection.Weight;
        OutputBias = projection.Bias;
        _dropoutRng = rng.Fork();
    }

    /// <summary>The configuration.</summary>
    public S4DConfig Config { get; }
    /// <summary>Model width H.</summary>
    public int H => Config.DModel;
    /// <summary>Skip connection D [H].</summary>
    public Parameter D { get; }
    /// <summary>The kernel generator.</summary>
    public S4DKernel Kernel { get; }
    /// <summary>Output 1×1 convolution weight [2H, H, 1] (<c>output_linear.0.weight</c>).</summary>
    public Parameter OutputWeight { get; }
    /// <summary>Output 1×1 convolution bias [2H] (<c>output_linear.0.bias</c>).</summary>
    public Parameter OutputBias { get; }

    /// <summary>AdamW groups: everything else (optimizer defaults), then Δ and A at <paramref name="ssmLr"/> with no weight decay (see <see cref="S4ParamGroups"/>).</summary>
    public IReadOnlyList<ParamGroup> ParameterGroups(double ssmLr = 1e-3) => S4ParamGroups.Create(this, ssmLr);

    /// <summary>The layer over x ([B, H, L] when transposed, else [B, L, H]); same shape out.</summary>
    public Variable Forward(Variable x) => Forward(x, null);

    /// <summary>
    /// The layer over x. With <paramref name="state"/> (unidirectional only) the sequences continue from it: the initial
    /// state's response is added and the state is advanced to the end of x (chunked prefill). Gradients flow to x and
    /// the parameters through the convolution, not through the carried state.
    /// </summary>
    public Variable Forward(Variable x, S4DState? state)
    {
        const string op = "S4D.Forward";
        var (batch, length) = SsmLayerOps.CheckInput(op, x, H, Config.Transposed);
        if (state is not null)
        {
            RequireCausal(op);
            Guard.That(state.Batch == batch, op, nameof(state), $"state holds {state.Batch} sequences, expected {batch} (the batch of x).");
        }
        var u = Config.Transposed ? x : F.Transpose(x, 1, 2);
        var y = SsmLayerOps.Convolve(u, Kernel.Forward(length), D);
        if (state is not null)
        {
            Tensor response;
            using (Autograd.NoGrad())
            {
                var (logABar, bBar, c) = Kernel.StepParameters();
                response = SsmRecurrence.Diagonal(logABar, bBar, c, u.Data, state.State, homogeneousOutput: true);
            }
            y = F.Add(y, new Variable(response));
        }
        y = SsmLayerOps.TiedDropout(F.Gelu(y), Config.Dropout, IsTraining, _dropoutRng);
        var w = F.Reshape(OutputWeight, 2 * H, H);
        return Config.Transposed
            ? F.Glu(F.MatMul(w, y), OutputBias, 1)
            : F.Glu(F.MatMul(y, w, transA: true, transB: true), OutputBias, -1);
    }

    /// <summary>A zero recurrent state for <paramref name="batch"/> sequences (unidirectional layers only).</summary>
    public S4DState AllocateState(int batch)
    {
        RequireCausal("S4D.AllocateState");
        return new S4DState(batch, H, Kernel.Modes, D.Device);
    }

    /// <summary>
    /// One recurrent step for x_t [batch, H]: advances <paramref name="state"/> in place and returns the output
    /// [batch, H] (inference: no autograd, no dropout).
    /// </summary>
    public Tensor Step(S4DState state, Tensor xt)
    {
        const string op = "S4D.Step";
        RequireCausal(op);
        ArgumentNullException.ThrowIfNull(state);
        Guard.Shape(op, xt, "xt", new[] { state.Batch, H }, $"[{state.Batch}, {H}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        var (logABar, bBar, c) = Kernel.StepParameters();
        var u = xt.Reshape(state.Batch, H, 1);
        var y = new Variable(SsmRecurrence.Diagonal(logABar, bBar, c, u, state.State));
        y = F.Gelu(F.Add(y, F.Mul(new Variable(u), F.Reshape(D, H, 1))));
        return F.Glu(F.Linear(F.Reshape(y, state.Batch, H), F.Reshape(OutputWeight, 2 * H, H)), OutputBias, -1).Data;
    }

    /// <summary>
    /// max_n ln|Ā_n| per channel [H] (float32, no autograd): the log-decay per step of each channel's slowest mode under
    /// the current parameters and discretization (ZOH: Δ·Re A_n = −Δ·exp(log_A_real)). The recurrence is time-invariant,
    /// so after t steps a token keeps at most exp(t·this) of its weight in the channel's state.
    /// </summary>
    public Tensor SlowestLogDecay()
    {
        var (logABar, _, _) = Kernel.StepParameters();
        var x = logABar.ToArray();
        int modes = Kernel.Modes;
        var slowest = new float[H];
        for (int h = 0; h < H; h++)
        {
            float m = float.NegativeInfinity;
            for (int n = 0; n < modes; n++) m = Math.Max(m, x[(h * modes + n) * 2]);
            slowest[h] = m;
        }
        return Tensor.From(slowest, new[] { H }, D.Device);
    }

    private void RequireCausal(string op)
    {
        if (Config.Bidirectional)
            throw new InvalidOperationException($"{op}: a bidirectional S4D layer has no recurrent form (its output depends on future inputs).");
    }

    /// <inheritdoc />
    public override string ToString() => $"S4D(d_model={H}, d_state={Config.DState}, {Config.Init}, {Config.Discretization}{(Config.Bidirectional ? ", bidirectional" : "")})";
}
