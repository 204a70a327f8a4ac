using Ssm.Kernels;

namespace Ssm.S4;

// S4 layer (s4.py S4Block around FFTConv with the DPLR kernel): y = GLU(Linear(dropout(GELU(K * u + D·u)))),
// K from S4Kernel (Cauchy + Woodbury + irfft), * the causal FFT convolution (anti-causal second kernel when bidirectional).
// Recurrent form: the bilinear DPLR recurrence in O(N) per step (SsmRecurrence.Dplr), y = 2·Re Σ C·x + D·u.

/// <summary>
/// The S4 (DPLR) layer with s4.py's <c>S4Block</c> parameter names: <c>layer.kernel.{inv_dt, C, B, A_real, A_imag, P}</c>
/// and buffer <c>layer.kernel.l_kernel</c> (see <see cref="S4Kernel"/>), <c>layer.D</c> [1, H], and the output
/// projection <c>output_linear.0.weight</c> [2H, H], <c>output_linear.0.bias</c> [2H] followed by GLU. Input and output
/// are [B, H, L] when <see cref="S4Config.Transposed"/> and [B, L, H] otherwise. Recurrent form:
/// <see cref="AllocateState"/>, <see cref="ConvolutionalSsmLayer{TState}.Step"/>, chunked prefill
/// <see cref="ConvolutionalSsmLayer{TState}.Forward(Variable, TState)"/> (unidirectional layers). s4.py applies dropout
/// twice (inside FFTConv and in S4Block); this layer applies it once, after GELU.
/// </summary>
public sealed class S4Block : ConvolutionalSsmLayer<S4State>
{
    private readonly Rng _dropoutRng;

    /// <summary>Creates the layer (D ~ N(0, 1), the kernel's HiPPO-LegS initialization, torch's Linear default for the output).</summary>
    public S4Block(S4Config config, Rng rng, Device? device = null) : base("S4Block", "S4")
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
    public override int H => Config.DModel;
    /// <summary>The DPLR kernel generator (<c>layer.kernel</c>).</summary>
    public S4Kernel Kernel { get; }
    /// <summary>Skip connection D [1, H] (<c>layer.D</c>).</summary>
    public override Parameter D { get; }
    /// <summary>The output projection H → 2H (<c>output_linear.0</c>), followed by GLU.</summary>
    public Linear Output { get; }

    private protected override bool Transposed => Config.Transposed;

    private protected override bool Bidirectional => Config.Bidirectional;

    private protected override Variable ConvolutionKernel(int length) => Kernel.Forward(length);

    private protected override Tensor Recurrence(S4State state, Tensor u, bool homogeneousOutput)
    {
        var (dt, aRe, aIm, p, b) = Kernel.StepParameters();
        return SsmRecurrence.Dplr(dt, aRe, aIm, p, b, state.StepC, u, state.State, homogeneousOutput);
    }

    private protected override Variable ApplyDropout(Variable y) => F.Dropout(y, Config.Dropout, IsTraining, _dropoutRng);

    private protected override (Variable Weight, Variable? Bias) OutputProjection() => (Output.Weight, Output.Bias);

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
