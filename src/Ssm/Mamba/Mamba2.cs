using Ssm.Kernels;

namespace Ssm.Mamba;

// Mamba-2 mixer (Dao & Gu, "Transformers are SSMs", 2024; mamba_ssm/modules/mamba2.py):
//   [z, xBC, dt] = in_proj(u);  xBC = SiLU(causal depthwise conv1d(xBC));  [x, B, C] = split(xBC)
//   Δ = softplus(dt + dt_bias);  A = −exp(A_log)
//   h_t = exp(Δ_t A) h_{t−1} + Δ_t x_t B_tᵀ;  y_t = h_t C_t + D x_t           (SSD scan, heads share B, C per group)
//   out = out_proj(RMSNorm_group(y ⊙ SiLU(z)) · w)
// Parameter names and initialization follow mamba_ssm so checkpoints move both ways.
// Optional inference-time state-collapse mitigations (Stuffed Mamba; see StateMitigation) change the scan only.

/// <summary>
/// The Mamba-2 mixer: parallel (chunked SSD) <see cref="Forward(Variable, Mamba2State?)"/> for training and prefill, and
/// the recurrent <see cref="Step"/> for token-by-token inference. Parameters: <c>in_proj.weight</c>,
/// <c>conv1d.weight</c> (conv_dim, 1, d_conv), <c>conv1d.bias</c>, <c>dt_bias</c>, <c>A_log</c>, <c>D</c>,
/// <c>norm.weight</c>, <c>out_proj.weight</c>. <c>A_log</c>, <c>D</c> and <c>dt_bias</c> are SSM parameters (no weight
/// decay; see <see cref="IsSsmParameter"/>).
/// </summary>
public sealed class Mamba2 : Module
{
    /// <summary>Creates the mixer with mamba_ssm's initialization, drawn from <paramref name="rng"/>.</summary>
    public Mamba2(Mamba2Config config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        InProj = RegisterModule("in_proj", new Linear(config.DModel, config.DInProj, bias: false, rng, d));
        Conv1d = RegisterModule("conv1d", new CausalDepthwiseConv1d(config.ConvDim, config.DConv, bias: true, rng, d));

        int h = config.NHeads;
        var dtBias = new float[h];
        var aLog = new float[h];
        for (int i = 0; i < h; i++)
        {
            double dt = Math.Exp(rng.Uniform(Math.Log(config.DtMin), Math.Log(config.DtMax)));
            dt = Math.Max(dt, config.DtInitFloor);
            dtBias[i] = (float)(dt + Math.Log(-Expm1(-dt))); // inverse softplus
        }
        for (int i = 0; i < h; i++) aLog[i] = (float)Math.Log(rng.Uniform(config.AInitRange.Min, config.AInitRange.Max));
        DtBias = RegisterParameter("dt_bias", new Parameter(Tensor.From(dtBias, new[] { h }, d)));
        ALog = RegisterParameter("A_log", new Parameter(Tensor.From(aLog, new[] { h }, d)));
        D = RegisterParameter("D", new Parameter(Tensor.Ones(new[] { h }, d)));
        Norm = RegisterModule("norm", new GatedRmsNorm(config.DInner, config.DInner / config.NGroups, (float)config.NormEps, d));
        OutProj = RegisterModule("out_proj", new Linear(config.DInner, config.DModel, bias: false, rng, d));
    }

    /// <summary>The configuration.</summary>
    public Mamba2Config Config { get; }
    /// <summary>in_proj: d_model → [z, xBC, dt].</summary>
    public Linear InProj { get; }
    /// <summary>Causal depthwise convolution over xBC.</summary>
    public CausalDepthwiseConv1d Conv1d { get; }
    /// <summary>Δ bias per head (inverse-softplus initialized).</summary>
    public Parameter DtBias { get; }
    /// <summary>ln(−A) per head.</summary>
    public Parameter ALog { get; }
    /// <summary>Skip connection per head.</summary>
    public Parameter D { get; }
    /// <summary>Gated group RMSNorm.</summary>
    public GatedRmsNorm Norm { get; }
    /// <summary>out_proj: d_inner → d_model.</summary>
    public Linear OutProj { get; }

    private static double Expm1(double x) => Math.Abs(x) < 1e-5 ? x + x * x / 2 + x * x * x / 6 : Math.Exp(x) - 1;

    /// <summary>True for the parameters mamba_ssm excludes from weight decay (A_log, D, dt_bias), by dotted name.</summary>
    public static bool IsSsmParameter(string name) =>
        name.EndsWith("A_log", StringComparison.Ordinal) || name.EndsWith(".D", StringComparison.Ordinal) || name == "D"
        || name.EndsWith("dt_bias", StringComparison.Ordinal);

    /// <summary>A zero inference state for <paramref name="batch"/> sequences on this module's device.</summary>
    public Mamba2State AllocateState(int batch) => new(Config, batch, ALog.Device);

    /// <summary>
    /// The inference-time mitigation of state collapse applied by <see cref="Forward"/> and <see cref="Step"/>
    /// (default: none). RRI is differentiable; the sliding window and the normalization are inference only (run them
    /// under <see cref="Autograd.NoGrad"/>).
    /// </summary>
    public StateMitigation Mitigation
    {
        get => _mitigation;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            _mitigation = value;
        }
    }

    private StateMitigation _mitigation = StateMitigation.None;

    /// <summary>
    /// The parallel form over u [batch, length, d_model]. With <paramref name="state"/>, the sequence continues from it
    /// and the state is advanced to the end of u (chunked prefill); gradients do not flow into the carried state, so a
    /// state carried across segments gives truncated backpropagation through time.
    /// </summary>
    public Variable Forward(Variable u, Mamba2State? state = null)
    {
        var c = Config;
        Guard.Rank("Mamba2.Forward", u.Data, "u", 3, "[batch, length, d_model]");
        Guard.Shape("Mamba2.Forward", u.Data, "u", new[] { -1, -1, c.DModel }, $"[batch, length, {c.DModel}] (d_model)");
        int batch = u.Size(0), length = u.Size(1);
        if (state is not null)
            Guard.That(state.Batch == batch, "Mamba2.Forward", nameof(state), $"state holds {state.Batch} sequences, expected {batch} (the batch of u).");

        var zxbcdt = InProj.Forward(u);
        var parts = F.Split(zxbcdt, new[] { c.DInner, c.ConvDim, c.NHeads }, -1);
        Variable z = parts[0], xBC = parts[1], dtRaw = parts[2];

        // With autograd on, the graph keeps a copy of the incoming conv state: the state itself is overwritten below.
        Tensor? convIn = state is null ? null : Autograd.IsGradEnabled ? state.ConvState.Clone() : state.ConvState;
        Tensor? nextConv = state is null ? null : Ssm.Kernels.Conv1d.StateFromPrefix(xBC.Data, c.DConv, state.ConvState);
        var xbc = Conv1d.Forward(xBC, silu: true, initialState: convIn);
        var xs = F.Split(xbc, new[] { c.DInner, c.NGroups * c.DState, c.NGroups * c.DState }, -1);
        var x = F.Reshape(xs[0], batch, length, c.NHeads, c.HeadDim);
        var b = F.Reshape(xs[1], batch, length, c.NGroups, c.DState);
        var cc = F.Reshape(xs[2], batch, length, c.NGroups, c.DState);
        var dt = F.Softplus(F.Add(dtRaw, DtBias));
        var y = Scan(x, dt, b, cc, state);
        var yFlat = F.Reshape(y, batch, length, c.DInner);
        var outp = OutProj.Forward(Norm.Forward(yFlat, z));
        state?.ConvState.CopyFrom(nextConv!);
        return outp;
    }

    /// <summary>
    /// One recurrent step for xt [batch, d_model]: advances <paramref name="state"/> in place and returns the output
    /// [batch, d_model]. No autograd (inference).
    /// </summary>
    public Tensor Step(Mamba2State state, Tensor xt)
    {
        var c = Config;
        Guard.Shape("Mamba2.Step", xt, "xt", new[] { state.Batch, c.DModel }, $"[{state.Batch}, {c.DModel}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        int batch = state.Batch;
        var zxbcdt = InProj.Forward(new Variable(xt)).Data;
        var z = Layout.Narrow(zxbcdt, 1, 0, c.DInner);
        var xBC = Layout.Narrow(zxbcdt, 1, c.DInner, c.ConvDim);
        var dtRaw = Layout.Narrow(zxbcdt, 1, c.DInner + c.ConvDim, c.NHeads);
        var xbc = Conv1d.Step(state.ConvState, xBC, silu: true);
        var x = Layout.Narrow(xbc, 1, 0, c.DInner).Reshape(batch, c.NHeads, c.HeadDim);
        var b = Layout.Narrow(xbc, 1, c.DInner, c.NGroups * c.DState).Reshape(batch, c.NGroups, c.DState);
        var cc = Layout.Narrow(xbc, 1, c.DInner + c.NGroups * c.DState, c.NGroups * c.DState).Reshape(batch, c.NGroups, c.DState);
        Tensor y;
        if (_mitigation.IsNone)
        {
            // The fused single-token kernel forms Δ = softplus(dt + dt_bias), updates the state in place (mamba_ssm's
            // selective_state_update) and adds Δ·a to the first token's log-retention.
            state.PrepareFor(_mitigation);
            var a = Elementwise.Scale(Elementwise.Unary(UnaryOp.Exp, ALog.Data), -1f);
            y = SsdScan.Step(state.SsmState, x, dtRaw, a, b, cc, D.Data, DtBias.Data, state.LogRetention);
            state.SteppedInPlace();
        }
        else
        {
            var dt = Elementwise.Unary(UnaryOp.Softplus, Elementwise.Add(dtRaw, DtBias.Data));
            y = Scan(new Variable(x.Reshape(batch, 1, c.NHeads, c.HeadDim)), new Variable(dt.Reshape(batch, 1, c.NHeads)),
                new Variable(b.Reshape(batch, 1, c.NGroups, c.DState)), new Variable(cc.Reshape(batch, 1, c.NGroups, c.DState)), state).Data;
        }
        var normed = Norm.Forward(new Variable(y.Reshape(batch, c.DInner)), new Variable(z));
        return OutProj.Forward(normed).Data;
    }

    // The SSM part of both forms, y [batch, length, heads, headdim] including the D skip, with the mitigation applied;
    // advances the state (h, the first-token retention, the window) when there is one.
    private Variable Scan(Variable x, Variable dt, Variable b, Variable cc, Mamba2State? state)
    {
        var m = _mitigation;
        int chunk = Config.ChunkSize;
        var a = F.Neg(F.Exp(ALog));
        state?.PrepareFor(m);
        // With autograd on, the graph keeps a copy of the incoming state: the state is overwritten with the final one below.
        var initial = state is null ? null : new Variable(Autograd.IsGradEnabled ? state.SsmState.Clone() : state.SsmState);
        Variable y;
        Tensor final;
        Tensor dtUsed = dt.Data;
        switch (m.Kind)
        {
            case StateMitigationKind.None:
            {
                var (ys, fs) = F.SsdScan(x, dt, a, b, cc, D, initial, chunk);
                (y, final) = (ys, fs.Data);
                break;
            }
            case StateMitigationKind.Rri:
            {
                // α_t·f_α = exp(Δ'_t a) with Δ' = Δ + ln(f_α)/a; the insertion keeps Δ_t x_t: x' = x·Δ/Δ'. B' = f_B·B.
                int heads = Config.NHeads;
                var shift = new Variable(Tensor.Full(new[] { heads }, (float)Math.Log(m.RetentionFactor), a.Device));
                var dtShifted = F.Add(dt, F.Div(shift, a));
                var ratio = F.Div(dt, F.Clamp(dtShifted, 1e-30f, float.MaxValue));
                var xIn = F.Mul(x, F.Reshape(ratio, x.Size(0), x.Size(1), heads, 1));
                var (ys, fs) = F.SsdScan(xIn, dtShifted, a, F.Scale(b, (float)m.InsertionFactor), cc, null, initial, chunk);
                y = F.Add(ys, F.Mul(x, F.Reshape(D, heads, 1)));
                final = fs.Data;
                dtUsed = dtShifted.Data;
                break;
            }
            default:
            {
                if (x.RequiresGrad || dt.RequiresGrad || b.RequiresGrad || cc.RequiresGrad)
                    throw new InvalidOperationException(
                        $"Mamba2: the {m} mitigation is inference-only (it has no gradient); run the model under Autograd.NoGrad() or train without it.");
                Tensor ys;
                if (m.Kind == StateMitigationKind.Normalize)
                    (ys, final) = StateNormalization.Scan(x.Data, dt.Data, a.Data, b.Data, cc.Data, D.Data, initial?.Data, m.NormBound);
                else
                {
                    using var window = state is null ? new StateWindow(Config, x.Size(0), m.Window, x.Data.Device) : null;
                    (ys, final) = (state?.Window ?? window!).Scan(x.Data, dt.Data, a.Data, b.Data, cc.Data, D.Data, initial?.Data, chunk);
                }
                y = new Variable(ys);
                break;
            }
        }
        state?.Advance(final, dtUsed, a.Data);
        return y;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"Mamba2(d_model={Config.DModel}, d_state={Config.DState}, nheads={Config.NHeads}, headdim={Config.HeadDim}, ngroups={Config.NGroups})";
}
