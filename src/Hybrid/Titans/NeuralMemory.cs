using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

// The Titans neural memory as a layer (Behrouz et al. 2024, §3 and §4.4 "architectural details"):
//   q = ℓ2(SiLU(conv(x W_Q))), k = ℓ2(SiLU(conv(x W_K))), v = SiLU(conv(x W_V))     (per head; conv: causal depthwise)
//   θ_t = θ_max·σ(x_t w_θ + b_θ), η_t = σ(x_t w_η + b_η), α_t = σ(x_t w_α + b_α)    (per head, data dependent)
//   y_t = M_{t'}(q_t) from the chunked memory scan (NeuralMemoryScan), M_0 a learned MLP per head,
//   out = W_O · RMSNorm_head(y ⊙ SiLU(x W_G))                                       (normalization and gating before the output projection)

/// <summary>
/// The streaming state of one <see cref="NeuralMemory"/> over a batch: the memory scan state (weights, momentum and
/// chunk-start weights per MLP layer, [batch·heads, d_out, d_in]) and the last ConvWidth − 1 projected inputs of the
/// query and key/value convolutions ([batch, ConvWidth − 1, channels]; null at the start of a sequence, meaning zeros).
/// Immutable; differentiable when built from parameters (training) or wrapping cache tensors (inference).
/// </summary>
/// <param name="Memory">The memory MLPs' scan state.</param>
/// <param name="QueryTail">Last projected query inputs, or null (zeros).</param>
/// <param name="KeyValueTail">Last projected key/value inputs, or null (zeros).</param>
public sealed record NeuralMemoryStream(MemoryScanState Memory, Variable? QueryTail, Variable? KeyValueTail);

/// <summary>
/// Titans' neural long-term memory layer (LMM): per-head MLP memories written online by gradient steps with momentum
/// and forgetting, read with queries, over x [batch, length, d_model] → [batch, length, d_model]. Parameters:
/// <c>q_proj</c>, <c>q_conv</c>, <c>kv_proj</c>, <c>kv_conv</c> (without convs when ConvWidth is 0), <c>gates_proj</c>
/// (θ, η, α logits per head), <c>memory.{l}</c> (initial memory weights [heads, d_{l+1}, d_l]), <c>gate_proj</c>,
/// <c>norm</c>, <c>out_proj</c>.
/// </summary>
public sealed class NeuralMemory : Module
{
    private readonly ModuleBuffer _l2Scale;

    /// <summary>Creates the layer; projections get torch's default initialization, memory weights N(0, 1/d_in).</summary>
    public NeuralMemory(NeuralMemoryConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        int inner = config.InnerDim, h = config.Heads;
        QProj = RegisterModule("q_proj", new Linear(config.DModel, inner, bias: false, rng, d));
        if (config.ConvWidth > 0) QConv = RegisterModule("q_conv", new CausalDepthwiseConv1d(inner, config.ConvWidth, bias: true, rng, d));
        KvProj = RegisterModule("kv_proj", new Linear(config.DModel, 2 * inner, bias: false, rng, d));
        if (config.ConvWidth > 0) KvConv = RegisterModule("kv_conv", new CausalDepthwiseConv1d(2 * inner, config.ConvWidth, bias: true, rng, d));
        GatesProj = RegisterModule("gates_proj", new Linear(config.DModel, 3 * h, bias: true, rng, d));
        var bias = new float[3 * h];
        for (int i = 0; i < h; i++)
        {
            bias[i] = config.LearningRateBias;
            bias[h + i] = config.MomentumBias;
            bias[2 * h + i] = config.DecayBias;
        }
        GatesProj.Bias!.Data.CopyFromHost<float>(bias);
        var dims = config.LayerDims();
        InitialWeights = RegisterModule("memory", new ParameterSet(Enumerable.Range(0, config.Depth)
            .Select(l => Init.Normal(Tensor.Empty(new[] { h, dims[l + 1], dims[l] }, DType.Float32, d), rng, 0, 1 / Math.Sqrt(dims[l])))));
        GateProj = RegisterModule("gate_proj", new Linear(config.DModel, inner, bias: false, rng, d));
        Norm = RegisterModule("norm", new GatedRmsNorm(inner, config.HeadDim, config.NormEps, d));
        OutProj = RegisterModule("out_proj", new Linear(inner, config.DModel, bias: false, rng, d));
        // ℓ2 normalization as an RMSNorm with weight 1/√d: x/√(‖x‖² + d·eps).
        _l2Scale = RegisterBuffer("l2_scale", Tensor.Full(new[] { config.HeadDim }, 1f / MathF.Sqrt(config.HeadDim), d), persistent: false);
    }

    /// <summary>The configuration.</summary>
    public NeuralMemoryConfig Config { get; }
    /// <summary>Query projection d_model → heads·head_dim.</summary>
    public Linear QProj { get; }
    /// <summary>Causal depthwise convolution of the queries (null when ConvWidth is 0).</summary>
    public CausalDepthwiseConv1d? QConv { get; }
    /// <summary>Key and value projection d_model → 2·heads·head_dim.</summary>
    public Linear KvProj { get; }
    /// <summary>Causal depthwise convolution of keys and values (null when ConvWidth is 0).</summary>
    public CausalDepthwiseConv1d? KvConv { get; }
    /// <summary>Logits of θ, η, α per head: d_model → 3·heads.</summary>
    public Linear GatesProj { get; }
    /// <summary>The learned initial memory weights, one [heads, d_{l+1}, d_l] per MLP layer.</summary>
    public ParameterSet InitialWeights { get; }
    /// <summary>Output gate projection d_model → heads·head_dim.</summary>
    public Linear GateProj { get; }
    /// <summary>Per-head gated RMSNorm of the retrieved values.</summary>
    public GatedRmsNorm Norm { get; }
    /// <summary>Output projection heads·head_dim → d_model.</summary>
    public Linear OutProj { get; }

    /// <summary>The stream at the start of a sequence: every memory at its learned initial weights, zero momentum.</summary>
    public NeuralMemoryStream InitialStream(int batch)
    {
        Guard.Positive("NeuralMemory.InitialStream", nameof(batch), batch);
        int h = Config.Heads;
        var dev = OutProj.Weight.Device;
        var zeros = new Variable(Tensor.Zeros(new[] { batch, 1, 1, 1 }, DType.Float32, dev));
        var weights = new Variable[Config.Depth];
        var momentum = new Variable[Config.Depth];
        for (int l = 0; l < Config.Depth; l++)
        {
            var w0 = InitialWeights[l];
            int dOut = w0.Size(1), dIn = w0.Size(2);
            weights[l] = F.Reshape(F.Add(zeros, F.Reshape(w0, 1, h, dOut, dIn)), batch * h, dOut, dIn);
            momentum[l] = new Variable(Tensor.Zeros(new[] { batch * h, dOut, dIn }, DType.Float32, dev));
        }
        return new NeuralMemoryStream(new MemoryScanState(weights, momentum, weights, 0), null, null);
    }

    /// <summary>The layer over x [batch, length, d_model] from the start of a sequence.</summary>
    public Variable Forward(Variable x) => Forward(x, InitialStream(CheckInput("NeuralMemory.Forward", x))).Output;

    /// <summary>
    /// The layer over x [batch, length, d_model] continuing <paramref name="stream"/>: writes every token into the memory
    /// and reads it with every token's query (at the chunk-start weights). Returns the output and the stream after x.
    /// </summary>
    public (Variable Output, NeuralMemoryStream Next) Forward(Variable x, NeuralMemoryStream stream)
    {
        const string op = "NeuralMemory.Forward";
        int batch = CheckInput(op, x);
        CheckStream(op, stream, batch);
        var c = Config;
        int inner = c.InnerDim;
        var (queries, queryTail) = QueryRows(x, stream.QueryTail);
        var (kv, kvTail) = ConvStream(KvProj.Forward(x), KvConv, stream.KeyValueTail);
        var kvParts = F.Split(kv, new[] { inner, inner }, -1);
        var keys = ToRows(L2(kvParts[0]));
        var values = ToRows(kvParts[1]);

        var gates = F.Split(GatesProj.Forward(x), new[] { c.Heads, c.Heads, c.Heads }, -1);
        var lr = F.Scale(F.Sigmoid(GateRows(gates[0])), c.MaxLearningRate);
        var momentum = c.Momentum
            ? F.Sigmoid(GateRows(gates[1]))
            : new Variable(Tensor.Zeros(new[] { batch * c.Heads, x.Size(1) }, DType.Float32, x.Device));
        var decay = F.Sigmoid(GateRows(gates[2]));

        var (retrieved, memory) = NeuralMemoryScan.Run(stream.Memory, queries, keys, values, lr, momentum, decay, c.ScanOptions);
        return (Output(retrieved, x), new NeuralMemoryStream(memory, queryTail, kvTail));
    }

    /// <summary>
    /// Reads the memories with the queries of x [batch, length, d_model] at fixed <paramref name="weights"/> (no write):
    /// the retrieval of Memory-as-Context. <paramref name="queryTail"/> continues the query convolution of this stream
    /// of x (null at its start). Returns the output [batch, length, d_model] and the next query tail.
    /// </summary>
    public (Variable Output, Variable? QueryTail) Read(Variable x, IReadOnlyList<Variable> weights, Variable? queryTail)
    {
        int batch = CheckInput("NeuralMemory.Read", x);
        if (weights.Count != Config.Depth || weights[0].Size(0) != batch * Config.Heads)
            throw new ArgumentException($"NeuralMemory.Read: expected {Config.Depth} weights of {batch * Config.Heads} rows (batch·heads).", nameof(weights));
        var (queries, tail) = QueryRows(x, queryTail);
        return (Output(NeuralMemoryScan.Retrieve(weights, queries, Config.Activation), x), tail);
    }

    /// <summary>ℓ2-normalized per-head queries of x as memory rows [batch·heads, length, head_dim], and the next conv tail.</summary>
    private (Variable Rows, Variable? Tail) QueryRows(Variable x, Variable? tail)
    {
        var (q, next) = ConvStream(QProj.Forward(x), QConv, tail);
        return (ToRows(L2(q)), next);
    }

    /// <summary>out_proj(RMSNorm_head(y ⊙ SiLU(gate_proj(x)))) for retrieved rows y [batch·heads, length, head_dim].</summary>
    private Variable Output(Variable retrieved, Variable x) => OutProj.Forward(Norm.Forward(FromRows(retrieved, x.Size(0)), GateProj.Forward(x)));

    /// <summary>SiLU(conv(p)) over p [B, L, C] continuing from the previous inputs <paramref name="tail"/> [B, W−1, C]; returns the next tail.</summary>
    private (Variable Output, Variable? Tail) ConvStream(Variable p, CausalDepthwiseConv1d? conv, Variable? tail)
    {
        if (conv is null || conv.Width == 1) return (conv is null ? F.Silu(p) : conv.Forward(p, silu: true), null);
        int keep = conv.Width - 1, length = p.Size(1);
        var input = tail is null ? p : F.Concat(new[] { tail, p }, 1);
        var y = conv.Forward(input, silu: true);
        if (tail is not null) y = F.Narrow(y, 1, keep, length);
        int rows = input.Size(1);
        var next = rows >= keep
            ? F.Narrow(input, 1, rows - keep, keep)
            : F.Concat(new[] { new Variable(Tensor.Zeros(new[] { p.Size(0), keep - rows, p.Size(2) }, DType.Float32, p.Device)), input }, 1);
        return (y, next);
    }

    /// <summary>ℓ2 normalization of each head's vector in x [B, L, heads·head_dim].</summary>
    private Variable L2(Variable x)
    {
        int b = x.Size(0), l = x.Size(1);
        var heads = F.Reshape(x, b, l, Config.Heads, Config.HeadDim);
        return F.Reshape(F.RmsNorm(heads, new Variable(_l2Scale.Data), Config.NormEps / Config.HeadDim), b, l, Config.InnerDim);
    }

    /// <summary>[B, L, heads·head_dim] → [B·heads, L, head_dim].</summary>
    private Variable ToRows(Variable x)
    {
        int b = x.Size(0), l = x.Size(1);
        return F.Reshape(F.Permute(F.Reshape(x, b, l, Config.Heads, Config.HeadDim), 0, 2, 1, 3), b * Config.Heads, l, Config.HeadDim);
    }

    /// <summary>[B·heads, L, head_dim] → [B, L, heads·head_dim].</summary>
    private Variable FromRows(Variable rows, int batch)
    {
        int l = rows.Size(1);
        return F.Reshape(F.Permute(F.Reshape(rows, batch, Config.Heads, l, Config.HeadDim), 0, 2, 1, 3), batch, l, Config.InnerDim);
    }

    /// <summary>[B, L, heads] → [B·heads, L].</summary>
    private Variable GateRows(Variable g)
    {
        int b = g.Size(0), l = g.Size(1);
        return F.Reshape(F.Permute(g, 0, 2, 1), b * Config.Heads, l);
    }

    private int CheckInput(string op, Variable x)
    {
        Guard.Rank(op, x.Data, "x", 3, "[batch, length, d_model]");
        Guard.Shape(op, x.Data, "x", new[] { -1, -1, Config.DModel }, $"[batch, length, {Config.DModel}] (d_model)");
        Guard.That(x.Size(0) > 0, op, nameof(x), "x has an empty batch.");
        return x.Size(0);
    }

    private void CheckStream(string op, NeuralMemoryStream stream, int batch)
    {
        ArgumentNullException.ThrowIfNull(stream);
        int rows = stream.Memory.Weights.Count == 0 ? -1 : stream.Memory.Weights[0].Size(0);
        if (stream.Memory.Weights.Count != Config.Depth || rows != batch * Config.Heads)
            throw new ArgumentException(
                $"{op}: stream holds {stream.Memory.Weights.Count} memory layers of {rows} rows, expected {Config.Depth} of {batch * Config.Heads} (batch {batch} · heads {Config.Heads}).",
                nameof(stream));
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"NeuralMemory(d_model={Config.DModel}, heads={Config.Heads}, head_dim={Config.HeadDim}, depth={Config.Depth}, expansion={Config.Expansion}, chunk={Config.ChunkSize})";
}
