using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

// LongVQ block (Liu et al., "LongVQ: Long Sequence Modeling with Vector Quantization on Structured Memory", 2024): MEGA's
// moving-average gated attention (Ma et al. 2022, facebookresearch/mega fairseq/modules/moving_average_gated_attention.py)
// with Transformer-VQ's linear-time attention over vector-quantized keys (Lingle 2023). With x̃ = LayerNorm(x):
//   v = SiLU(x̃ W_v)                                         value            [B, T, h]
//   x' = SiLU(EMA(x̃) + ω⊙x̃)                                 SSM branch (DampedEma)
//   [u, zr, ĥ] = x' W_mx;  φ = σ(u);  [z, r] = SiLU(zr)       update gate φ, shared representation z, reset gate r
//   q = κ_q⊙z + μ_q,  k = κ_k⊙z + μ_k                        per-head rows of z (each head has its own codebook)
//   k̂ = VQ(k) (straight-through),  o = CodebookAttention(q, k̂, v)   blocks of L, scale 1/√(z/H)
//   H = SiLU(ĥ + (o⊙r) W_h),   y = x + φ⊙(H − x)                 gated residual (MEGA's addcmul)
// κ starts at 1 + N(0, 0.02²) (MEGA: N(0, 0.02²)) so keys start at the scale of z and the codebook is meaningful from
// the first step; μ = 0. No positional bias: order comes from the EMA branch (relative biases would break the codeword
// identity the per-code caches rely on). Step: the EMA recurrence, and attention over a window of the previous and the
// current block's exact (quantized) keys and values plus per-code counts and value sums of all earlier blocks.

/// <summary>
/// Recurrent inference state of one causal <see cref="LongVQBlock"/>: the EMA state [B, D, N]; the exact window of the
/// previous and the current block — keys [B, H, 2L, z/H], values [B, H, 2L, v/H], codes [B, H, 2L] (slots 0..L−1 the
/// previous block, L..2L−1 the current one) — and the per-code counts [B, H, S] and value sums [B, H, S, v/H] of every
/// earlier block. Owned by the caller (outside tensor scopes); dispose when done.
/// </summary>
public sealed class LongVQBlockState : IDisposable
{
    internal LongVQBlockState(LongVQBlockConfig c, int batch, Device device)
    {
        Guard.Positive("LongVQBlockState", nameof(batch), batch);
        Batch = batch;
        int h = c.NHeads, w = 2 * c.BlockLength;
        Ema = Tensor.Zeros(new[] { batch, c.DModel, c.EmaDim }, DType.Float32, device).DetachFromScope();
        WindowKeys = Tensor.Zeros(new[] { batch, h, w, c.HeadDim }, DType.Float32, device).DetachFromScope();
        WindowValues = Tensor.Zeros(new[] { batch, h, w, c.ValueHeadDim }, DType.Float32, device).DetachFromScope();
        WindowCodes = Tensor.Zeros(new[] { batch, h, w }, DType.Int32, device).DetachFromScope();
        Counts = Tensor.Zeros(new[] { batch, h, c.CodebookSize }, DType.Float32, device).DetachFromScope();
        Sums = Tensor.Zeros(new[] { batch, h, c.CodebookSize, c.ValueHeadDim }, DType.Float32, device).DetachFromScope();
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>Tokens consumed so far.</summary>
    public int Position { get; internal set; }
    /// <summary>EMA state [B, D, N].</summary>
    public Tensor Ema { get; }
    /// <summary>Quantized keys of the previous and current block [B, H, 2L, z/H].</summary>
    public Tensor WindowKeys { get; }
    /// <summary>Values of the previous and current block [B, H, 2L, v/H].</summary>
    public Tensor WindowValues { get; }
    /// <summary>Codes of the previous and current block [B, H, 2L].</summary>
    public Tensor WindowCodes { get; }
    /// <summary>Per-code key counts of all earlier blocks [B, H, S].</summary>
    public Tensor Counts { get; }
    /// <summary>Per-code value sums of all earlier blocks [B, H, S, v/H].</summary>
    public Tensor Sums { get; }

    /// <summary>Back to the empty state.</summary>
    public void Reset()
    {
        foreach (var t in Tensors()) t.Zero();
        Position = 0;
    }

    /// <summary>Releases the state tensors.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors()) t.Dispose();
    }

    private Tensor[] Tensors() => new[] { Ema, WindowKeys, WindowValues, WindowCodes, Counts, Sums };
}

/// <summary>
/// The LongVQ block: pre-LayerNorm, damped-EMA branch, gates and projections, codebook attention, gated residual.
/// Parameters: <c>norm.weight/bias</c>, <c>v_proj.*</c>, <c>ema.{delta, alpha, beta, gamma, omega}</c>,
/// <c>mx_proj.*</c>, <c>qk_gamma</c> [2, z], <c>qk_beta</c> [2, z], <c>h_proj.*</c>; buffers
/// <c>quantizer.{codebook, ema_count, ema_sum}</c>. <see cref="Forward"/> is the parallel form (causal or not);
/// <see cref="Step"/> the recurrent form of a causal block. After each <see cref="Forward"/>,
/// <see cref="CommitmentLoss"/> holds that pass's commitment loss (add it to the training loss).
/// </summary>
public sealed class LongVQBlock : Module
{
    /// <summary>Creates the block; <paramref name="causal"/> selects causal attention and a unidirectional EMA (language
    /// models) or full attention and a bidirectional EMA (classifiers).</summary>
    public LongVQBlock(LongVQBlockConfig config, bool causal, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        Causal = causal;
        var d = device ?? Device.Default;
        int dm = config.DModel, z = config.ZDim, hv = config.ValueDim;
        Norm = RegisterModule("norm", new LayerNorm(dm, (float)config.NormEps, device: d));
        VProj = RegisterModule("v_proj", new Linear(dm, hv, bias: true, rng, d));
        Ema = RegisterModule("ema", new DampedEma(dm, config.EmaDim, bidirectional: !causal, rng, d));
        MxProj = RegisterModule("mx_proj", new Linear(dm, dm + z + hv + dm, bias: true, rng, d));
        var gamma = new float[2 * z];
        rng.FillNormal(gamma, 1, 0.02);
        QkGamma = RegisterParameter("qk_gamma", new Parameter(Tensor.From(gamma, new[] { 2, z }, d)));
        QkBeta = RegisterParameter("qk_beta", new Parameter(Tensor.Zeros(new[] { 2, z }, DType.Float32, d)));
        HProj = RegisterModule("h_proj", new Linear(hv, dm, bias: true, rng, d));
        Quantizer = RegisterModule("quantizer", new VectorQuantizer(config.NHeads, config.CodebookSize, config.HeadDim, rng, d,
            config.CommitmentWeight, config.CodebookDecay, config.CodebookEpsilon, config.DeadCodeInterval, config.DeadCodeMinCount,
            config.CodebookInitStd));
    }

    /// <summary>The configuration.</summary>
    public LongVQBlockConfig Config { get; }
    /// <summary>Causal attention and EMA (true) or full attention and a bidirectional EMA.</summary>
    public bool Causal { get; }
    /// <summary>Pre-norm.</summary>
    public LayerNorm Norm { get; }
    /// <summary>Value projection D → v.</summary>
    public Linear VProj { get; }
    /// <summary>The damped-EMA (SSM) branch.</summary>
    public DampedEma Ema { get; }
    /// <summary>Projection of the EMA output to [update gate, z and reset gate, ĥ].</summary>
    public Linear MxProj { get; }
    /// <summary>Per-dimension scales κ of q (row 0) and k (row 1) [2, z].</summary>
    public Parameter QkGamma { get; }
    /// <summary>Per-dimension offsets μ of q (row 0) and k (row 1) [2, z].</summary>
    public Parameter QkBeta { get; }
    /// <summary>Projection of the gated attention output v → D.</summary>
    public Linear HProj { get; }
    /// <summary>The key quantizer (one codebook per head).</summary>
    public VectorQuantizer Quantizer { get; }
    /// <summary>The commitment loss of the last <see cref="Forward"/> (null before the first).</summary>
    public Variable? CommitmentLoss { get; private set; }

    /// <summary>The parallel form over x [batch, length, D] → [batch, length, D].</summary>
    public Variable Forward(Variable x)
    {
        Guard.Rank("LongVQBlock.Forward", x.Data, "x", 3, "[batch, length, d_model]");
        Guard.Shape("LongVQBlock.Forward", x.Data, "x", new[] { -1, -1, Config.DModel }, $"[batch, length, {Config.DModel}] (d_model)");
        var xn = Norm.Forward(x);
        return Mix(x, xn, Ema.Forward(xn), (q, k, v) =>
        {
            var vq = Quantizer.Forward(SplitHeads(k, Config.HeadDim));
            CommitmentLoss = vq.CommitmentLoss;
            var o = F.CodebookAttention(SplitHeads(q, Config.HeadDim), vq.Quantized, SplitHeads(v, Config.ValueHeadDim),
                vq.Codes, vq.Codebook, Config.BlockLength, Causal);
            return MergeHeads(o);
        });
    }

    /// <summary>A zero inference state for <paramref name="batch"/> sequences (causal blocks only).</summary>
    public LongVQBlockState AllocateState(int batch)
    {
        if (!Causal) throw new InvalidOperationException("LongVQBlock.AllocateState: a non-causal block has no recurrent form.");
        return new LongVQBlockState(Config, batch, QkGamma.Device);
    }

    /// <summary>
    /// One recurrent step for xt [batch, D]: advances <paramref name="state"/> and returns the output [batch, D]. No
    /// autograd, no codebook update (inference).
    /// </summary>
    public Tensor Step(LongVQBlockState state, Tensor xt)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!Causal) throw new InvalidOperationException("LongVQBlock.Step: a non-causal block has no recurrent form.");
        Guard.Shape("LongVQBlock.Step", xt, "xt", new[] { state.Batch, Config.DModel }, $"[{state.Batch}, {Config.DModel}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        int b = state.Batch;
        var x = new Variable(xt.Reshape(b, 1, Config.DModel));
        var xn = Norm.Forward(x);
        var mx = new Variable(Ema.Step(state.Ema, xn.Data.Reshape(b, Config.DModel)).Reshape(b, 1, Config.DModel));
        var y = Mix(x, xn, mx, (q, k, v) =>
        {
            var (codes, kHat) = VectorQuantize.Nearest(SplitHeads(k, Config.HeadDim).Data, Quantizer.Codebook.Data);
            return new Variable(AttendStep(state, SplitHeads(q, Config.HeadDim).Data, kHat, codes, SplitHeads(v, Config.ValueHeadDim).Data)
                .Reshape(b, 1, Config.ValueDim));
        });
        state.Position++;
        return y.Data.Reshape(b, Config.DModel);
    }

    /// <summary>The gated part shared by both forms: x (residual), x̃ = norm(x), x' = EMA branch, attention callback (q, k, v) → o.</summary>
    private Variable Mix(Variable x, Variable xn, Variable mx, Func<Variable, Variable, Variable, Variable> attend)
    {
        int dm = Config.DModel, z = Config.ZDim, hv = Config.ValueDim;
        var v = F.Silu(VProj.Forward(xn));
        var parts = F.Split(MxProj.Forward(mx), new[] { dm, z + hv, dm }, -1);
        var update = F.Sigmoid(parts[0]);
        var zr = F.Split(F.Silu(parts[1]), new[] { z, hv }, -1);
        var q = F.Add(F.Mul(zr[0], F.Narrow(QkGamma, 0, 0, 1)), F.Narrow(QkBeta, 0, 0, 1));
        var k = F.Add(F.Mul(zr[0], F.Narrow(QkGamma, 0, 1, 1)), F.Narrow(QkBeta, 0, 1, 1));
        var o = attend(q, k, v);
        var h = F.Silu(F.Add(parts[2], HProj.Forward(F.Mul(o, zr[1]))));
        return F.Add(x, F.Mul(update, F.Sub(h, x)));
    }

    /// <summary>[B, T, H·e] → [B, H, T, e].</summary>
    private Variable SplitHeads(Variable x, int width) => F.Permute(F.Reshape(x, x.Size(0), x.Size(1), Config.NHeads, width), 0, 2, 1, 3);

    /// <summary>[B, H, T, e] → [B, T, H·e].</summary>
    private static Variable MergeHeads(Variable x) => F.Reshape(F.Permute(x, 0, 2, 1, 3), x.Size(0), x.Size(2), x.Size(1) * x.Size(3));

    /// <summary>
    /// Attention of one new token per sequence (q, k̂ [B, H, 1, z/H], codes [B, H, 1], v [B, H, 1, v/H]) over the state's
    /// window and per-code caches, after entering it into the state; returns [B, H, 1, v/H]. Same result as the parallel
    /// op (softmax over the exact window scores and the cache scores scale·q·c_s + ln n_s).
    /// </summary>
    private Tensor AttendStep(LongVQBlockState s, Tensor q, Tensor kHat, Tensor codes, Tensor v)
    {
        var c = Config;
        int L = c.BlockLength, S = c.CodebookSize, H = c.NHeads, b = s.Batch, bh = b * H, e = c.HeadDim, ve = c.ValueHeadDim;
        int position = s.Position, block = position / L, offset = position % L;
        if (offset == 0 && position > 0)
        {
            if (block >= 2)
            {
                // Block (block − 2), held in the previous-block slots, leaves the window for the per-code caches.
                var (n, m) = VectorQuantize.AggregateByCode(Layout.Narrow(s.WindowCodes, 2, 0, L), Layout.Narrow(s.WindowValues, 2, 0, L), S);
                Elementwise.Axpy(1f, n, s.Counts);
                Elementwise.Axpy(1f, m, s.Sums);
            }
            Layout.WriteSlice(s.WindowKeys, 2, 0, Layout.Narrow(s.WindowKeys, 2, L, L));
            Layout.WriteSlice(s.WindowValues, 2, 0, Layout.Narrow(s.WindowValues, 2, L, L));
            Layout.WriteSlice(s.WindowCodes, 2, 0, Layout.Narrow(s.WindowCodes, 2, L, L));
        }
        Layout.WriteSlice(s.WindowKeys, 2, L + offset, kHat);
        Layout.WriteSlice(s.WindowValues, 2, L + offset, v);
        Layout.WriteSlice(s.WindowCodes, 2, L + offset, codes);

        float scale = 1f / MathF.Sqrt(e);
        var mask = new float[2 * L];
        for (int slot = 0; slot < 2 * L; slot++)
            mask[slot] = (slot < L ? block >= 1 : slot - L <= offset) ? 0f : float.NegativeInfinity;
        var windowScores = Elementwise.Add(
            MatMul.Compute(q.Reshape(bh, 1, e), s.WindowKeys.Reshape(bh, 2 * L, e), transB: true, alpha: scale),
            Tensor.From(mask, new[] { 2 * L }, q.Device));                                                   // [BH, 1, 2L]
        var perHead = Layout.Permute(q.Reshape(b, H, e), 1, 0, 2);                                            // [H, B, e]
        var codeScores = Layout.Permute(MatMul.Compute(perHead, Quantizer.Codebook.Data, transB: true, alpha: scale), 1, 0, 2); // [B, H, S]
        codeScores = Elementwise.Add(codeScores, Elementwise.Unary(UnaryOp.Log, s.Counts));                   // −∞ for empty codes
        var p = Softmax.Forward(Layout.Concat(new[] { windowScores, codeScores.Reshape(bh, 1, S) }, 2));
        var o = MatMul.Compute(Layout.Narrow(p, 2, 0, 2 * L), s.WindowValues.Reshape(bh, 2 * L, ve));
        var perCount = Elementwise.Div(Layout.Narrow(p, 2, 2 * L, S), Elementwise.Binary(BinaryOp.Max, s.Counts, Tensor.Scalar(1f, q.Device)).Reshape(bh, 1, S));
        MatMul.Compute(perCount, s.Sums.Reshape(bh, S, ve), output: o, beta: 1f);
        return o.Reshape(b, H, 1, ve);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"LongVQBlock(d_model={Config.DModel}, z={Config.ZDim}, v={Config.ValueDim}, heads={Config.NHeads}, codes={Config.CodebookSize}, block={Config.BlockLength}, causal={Causal})";
}
