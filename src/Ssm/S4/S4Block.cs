using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.S4;

// S4 layer (s4.py S4Block around FFTConv with the DPLR kernel): y = GLU(Linear(dropout(GELU(K * u + D·u)))),
// K from S4Kernel (Cauchy + Woodbury + irfft), * the causal FFT convolution (anti-causal second kernel when bidirectional).
// Recurrent form: the bilinear DPLR recurrence in O(N) per step (SsmRecurrence.Dplr), y = 2·Re Σ C·x + D·u.

/// <summary>
/// The S4 (DPLR) layer with s4.py's <c>S4Block</c> parameter names: <c>layer.kernel.{inv_dt, C, B, A_real, A_imag, P}</c>
/// and buffer <c>layer.kernel.l_kernel</c> (see <see cref="S4Kernel"/>), <c>layer.D</c> [1, H], and the output
/// projection <c>output_linear.0.weight</c> [2H, H], <c>output_linear.0.bias</c> [2H] followed by GLU. Input and output
/// are [B, H, L] when <see cref="S4Config.Transposed"/> and [B, L, H] otherwise. Recurrent form:
/// <see cref="AllocateState"/>, <see cref="Step"/>, chunked prefill <see cref="Forward(Variable, S4State?)"/>
/// (unidirectional layers). s4.py applies dropout twice (inside FFTConv and in S4Block); this layer applies it once, after GELU.
/// </summary>
public sealed class S4Block : Module, IForward
{
    private readonly Rng _dropoutRng;

    /// <summary>Creates the layer (D ~ N(0, 1), the kernel's HiPPO-LegS initialization, torch's Linear default for the output).</summary>
    public S4Block(S4Config config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        var layer = RegisterModule("layer", new FftConvParameters(config, rng, d));
        Kernel = layer.Kernel;
        D = layer.D;
        Output = new Linear(config.DModel, 2 * config.DModel, bias: true, rng, d);
        RegisterModule("output_linear", new ModuleList<Module>(new Module[] { Output }));
        _dropoutRng = rng.Fork();
    }

    /// <summary>The configuration.</summary>
    public S4Config Config { get; }
    /// <summary>Model width H.</summary>
    public int H => Config.DModel;
    /// <summary>The DPLR kernel generator (<c>layer.kernel</c>).</summary>
    public S4Kernel Kernel { get; }
    /// <summary>Skip connection D [1, H] (<c>layer.D</c>).</summary>
    public Parameter D { get; }
    /// <summary>The output projection H → 2H (<c>output_linear.0</c>), followed by GLU.</summary>
    public Linear Output { get; }

    /// <summary>AdamW groups: everything else (optimizer defaults), then Δ, Λ, B̃ and P̃ at <paramref name="ssmLr"/> with no weight decay (see <see cref="S4ParamGroups"/>).</summary>
    public IReadOnlyList<ParamGroup> ParameterGroups(double ssmLr = 1e-3) => S4ParamGroups.Create(this, ssmLr);

    /// <summary>The layer over x ([B, H, L] when transposed, else [B, L, H]); same shape out.</summary>
    public Variable Forward(Variable x) => Forward(x, null);

    /// <summary>
    /// The layer over x. With <paramref name="state"/> (unidirectional only) the sequences continue from it: the initial
    /// state's response is added and the state is advanced to the end of x (chunked prefill). Gradients flow to x and
    /// the parameters through the convolution, not through the carried state.
    /// </summary>
    public Variable Forward(Variable x, S4State? state)
    {
        const string op = "S4Block.Forward";
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
                var (dt, aRe, aIm, p, b) = Kernel.StepParameters();
                response = SsmRecurrence.Dplr(dt, aRe, aIm, p, b, state.StepC, u.Data, state.State, homogeneousOutput: true);
            }
            y = F.Add(y, new Variable(response));
        }
        y = F.Dropout(F.Gelu(y), Config.Dropout, IsTraining, _dropoutRng);
        return Config.Transposed
            ? F.Glu(F.MatMul(Output.Weight, y), Output.Bias, 1)
            : F.Glu(F.MatMul(y, Output.Weight, transA: true, transB: true), Output.Bias, -1);
    }

    /// <summary>
    /// A zero recurrent state for <paramref name="batch"/> sequences (unidirectional layers only). It captures the
    /// recurrence's C, solved from C̃ on the host for the current parameters.
    /// </summary>
    public S4State AllocateState(int batch)
    {
        RequireCausal("S4Block.AllocateState");
        Guard.Positive("S4Block.AllocateState", nameof(batch), batch);
        return new S4State(batch, H, Kernel.Modes, Kernel.StepC());
    }

    /// <summary>
    /// One recurrent step for x_t [batch, H]: advances <paramref name="state"/> in place and returns the output
    /// [batch, H] (inference: no autograd, no dropout).
    /// </summary>
    public Tensor Step(S4State state, Tensor xt)
    {
        const string op = "S4Block.Step";
        RequireCausal(op);
        ArgumentNullException.ThrowIfNull(state);
        Guard.Shape(op, xt, "xt", new[] { state.Batch, H }, $"[{state.Batch}, {H}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        var (dt, aRe, aIm, p, b) = Kernel.StepParameters();
        var u = xt.Reshape(state.Batch, H, 1);
        var y = new Variable(SsmRecurrence.Dplr(dt, aRe, aIm, p, b, state.StepC, u, state.State));
        y = F.Gelu(F.Add(y, F.Mul(new Variable(u), F.Reshape(D, H, 1))));
        return F.Glu(F.Linear(F.Reshape(y, state.Batch, H), Output.Weight), Output.Bias, -1).Data;
    }

    private void RequireCausal(string op)
    {
        if (Config.Bidirectional)
            throw new InvalidOperationException($"{op}: a bidirectional S4 layer has no recurrent form (its output depends on future inputs).");
    }

    /// <inheritdoc />
    public override string ToString() => $"S4Block(d_model={H}, d_state={Config.DState}, l_kernel={Kernel.KernelLength}{(Config.Bidirectional ? ", bidirectional" : "")})";

    /// <summary>s4.py's FFTConv parameters: <c>D</c> [1, H] and <c>kernel</c>.</summary>
    private sealed class FftConvParameters : Module
    {
        public FftConvParameters(S4Config config, Rng rng, Device device)
        {
            D = RegisterParameter("D", new Parameter(rng.Normal(new[] { 1, config.DModel }, device: device)));
            Kernel = RegisterModule("kernel", new S4Kernel(config, rng, device));
        }

        public Parameter D { get; }
        public S4Kernel Kernel { get; }
    }
}
