using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.S4;

/// <summary>Which sequence layer an S4 model stacks.</summary>
public enum S4LayerKind
{
    /// <summary><see cref="S4D"/> (diagonal).</summary>
    S4D,
    /// <summary><see cref="S4Block"/> (DPLR).</summary>
    S4,
}

/// <summary>
/// Hyper-parameters of an <see cref="S4Classifier"/> (s4's example.py <c>S4Model</c>, LRA-style). Exactly one encoder:
/// token ids through an embedding (<see cref="VocabSize"/>) or real-valued features through a linear map
/// (<see cref="DInput"/>).
/// </summary>
public sealed record S4ClassifierConfig
{
    /// <summary>Model width H.</summary>
    public int DModel { get; init; } = 128;
    /// <summary>Number of residual blocks.</summary>
    public int NLayers { get; init; } = 4;
    /// <summary>Number of classes.</summary>
    public int NumClasses { get; init; } = 10;
    /// <summary>Vocabulary size for token-id inputs (embedding encoder); null for real-valued inputs.</summary>
    public int? VocabSize { get; init; }
    /// <summary>Feature width for real-valued inputs [B, L, d_input] (linear encoder); null for token ids.</summary>
    public int? DInput { get; init; }
    /// <summary>S4D or S4 blocks.</summary>
    public S4LayerKind Layer { get; init; } = S4LayerKind.S4D;
    /// <summary>State size N.</summary>
    public int DState { get; init; } = 64;
    /// <summary>Two-sided kernels (non-causal classification).</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout inside each layer and on each block's output.</summary>
    public float Dropout { get; init; }
    /// <summary>Pre-norm (LayerNorm before each layer) or post-norm (after each residual sum), as example.py's <c>prenorm</c>.</summary>
    public bool Prenorm { get; init; } = true;
    /// <summary>S4D initialization of A.</summary>
    public S4DInit Init { get; init; } = S4DInit.Lin;
    /// <summary>S4D discretization.</summary>
    public Discretization Discretization { get; init; } = Discretization.Zoh;
    /// <summary>Smallest initial Δ.</summary>
    public double DtMin { get; init; } = 0.001;
    /// <summary>Largest initial Δ.</summary>
    public double DtMax { get; init; } = 0.1;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"S4ClassifierConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(NLayers >= 0, $"n_layers must be non-negative, got {NLayers}");
        Need(NumClasses > 0, $"num_classes must be positive, got {NumClasses}");
        Need((VocabSize is null) != (DInput is null), "set exactly one of vocab_size (token ids) and d_input (real-valued features)");
        Need(VocabSize is null or > 0, $"vocab_size must be positive, got {VocabSize}");
        Need(DInput is null or > 0, $"d_input must be positive, got {DInput}");
        Need(Dropout >= 0 && Dropout < 1, $"dropout must be in [0, 1), got {Dropout}");
    }

    internal S4DConfig S4DLayer => new()
    {
        DModel = DModel, DState = DState, DtMin = DtMin, DtMax = DtMax, Init = Init, Discretization = Discretization,
        Dropout = Dropout, Transposed = false, Bidirectional = Bidirectional,
    };

    internal S4Config S4Layer => new()
    {
        DModel = DModel, DState = DState, DtMin = DtMin, DtMax = DtMax, Dropout = Dropout, Transposed = false, Bidirectional = Bidirectional,
    };
}

/// <summary>
/// A sequence classifier for LRA-style tasks (s4's example.py <c>S4Model</c>): encoder (embedding of token ids or a linear
/// map of features) → <see cref="S4ClassifierConfig.NLayers"/> residual blocks [LayerNorm (pre-norm), S4D or S4 layer,
/// dropout, residual] → mean over the sequence (over the valid positions when lengths are given) → linear decoder.
/// Parameter names: <c>encoder.*</c>, <c>s4_layers.{i}.*</c>, <c>norms.{i}.*</c>, <c>decoder.*</c>.
/// </summary>
public sealed class S4Classifier : Module
{
    private readonly Embedding? _embedding;
    private readonly Linear? _linearEncoder;
    private readonly ModuleList<Module> _layers;
    private readonly ModuleList<LayerNorm> _norms;
    private readonly ModuleList<Dropout> _dropouts;

    /// <summary>Creates the model from <paramref name="rng"/>.</summary>
    public S4Classifier(S4ClassifierConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        if (config.VocabSize is int vocab) _embedding = RegisterModule("encoder", new Embedding(vocab, config.DModel, rng, device: d));
        else _linearEncoder = RegisterModule("encoder", new Linear(config.DInput!.Value, config.DModel, bias: true, rng, d));
        _layers = RegisterModule("s4_layers", new ModuleList<Module>(Enumerable.Range(0, config.NLayers).Select(_ =>
            config.Layer == S4LayerKind.S4D ? (Module)new S4D(config.S4DLayer, rng, d) : new S4Block(config.S4Layer, rng, d)).ToList()));
        _norms = RegisterModule("norms", new ModuleList<LayerNorm>(Enumerable.Range(0, config.NLayers).Select(_ => new LayerNorm(config.DModel, device: d)).ToList()));
        _dropouts = RegisterModule("dropouts", new ModuleList<Dropout>(Enumerable.Range(0, config.NLayers).Select(_ => new Dropout(config.Dropout, rng)).ToList()));
        Decoder = RegisterModule("decoder", new Linear(config.DModel, config.NumClasses, bias: true, rng, d));
    }

    /// <summary>The configuration.</summary>
    public S4ClassifierConfig Config { get; }
    /// <summary>The sequence layers (<see cref="S4D"/> or <see cref="S4Block"/>), batch-first.</summary>
    public IReadOnlyList<Module> Layers => _layers;
    /// <summary>The linear decoder H → classes.</summary>
    public Linear Decoder { get; }

    /// <summary>AdamW groups: everything else (optimizer defaults), then the SSM parameters at <paramref name="ssmLr"/> with no weight decay.</summary>
    public IReadOnlyList<ParamGroup> ParameterGroups(double ssmLr = 1e-3) => S4ParamGroups.Create(this, ssmLr);

    /// <summary>
    /// Logits [B, classes] for <paramref name="input"/>: token ids [B, L] (int32/int64) with an embedding encoder, or
    /// features [B, L, d_input] (float32) with a linear one. With <paramref name="lengths"/> [B] (int32/int64, 1 ≤ len ≤ L;
    /// suffix padding) every layer's input is zeroed at padded positions (as s4.py's S4Block does) and the mean pools the
    /// valid positions only, so the logits do not depend on the padding.
    /// </summary>
    public Variable Forward(Tensor input, Tensor? lengths = null)
    {
        const string op = "S4Classifier.Forward";
        Variable x;
        if (_embedding is not null)
        {
            Guard.Rank(op, input, "input", 2, "[batch, length] (token ids)");
            x = _embedding.Forward(input);
        }
        else
        {
            Guard.Shape(op, input, "input", new[] { -1, -1, Config.DInput!.Value }, $"[batch, length, {Config.DInput}] (d_input)");
            x = _linearEncoder!.Forward(new Variable(input));
        }
        int batch = x.Size(0), length = x.Size(1);
        if (length < 1) throw new ArgumentException($"{op}: input has shape {Shapes.Format(input.Shape)}: the sequence length must be at least 1.", nameof(input));
        var (mask, counts) = lengths is null ? (null, null) : Mask(op, lengths, batch, length, x.Device);
        for (int i = 0; i < _layers.Count; i++)
        {
            var z = mask is null ? x : F.Mul(x, mask);
            if (Config.Prenorm) z = _norms[i].Forward(z);
            z = _dropouts[i].Forward(((IForward)_layers[i]).Forward(z));
            x = F.Add(x, z);
            if (!Config.Prenorm) x = _norms[i].Forward(x);
        }
        var pooled = mask is null ? F.Mean(x, 1) : F.Div(F.Sum(F.Mul(x, mask), 1), counts!);
        return Decoder.Forward(pooled);
    }

    /// <summary>The padding mask [B, L, 1] (1 at valid positions) and the valid counts [B, 1].</summary>
    private static (Variable Mask, Variable Counts) Mask(string op, Tensor lengths, int batch, int length, Device device)
    {
        Guard.Shape(op, lengths, "lengths", new[] { batch }, $"[{batch}] (one length per sequence)");
        long[] values = lengths.DType == DType.Int64 ? lengths.ToInt64Array() : lengths.ToInt32Array().Select(v => (long)v).ToArray();
        var mask = new float[batch * length];
        var counts = new float[batch];
        for (int b = 0; b < batch; b++)
        {
            if (values[b] < 1 || values[b] > length)
                throw new ArgumentOutOfRangeException(nameof(lengths), values[b], $"{op}: lengths[{b}] = {values[b]} is outside [1, {length}] (the input length).");
            for (int t = 0; t < values[b]; t++) mask[b * length + t] = 1f;
            counts[b] = values[b];
        }
        return (new Variable(Tensor.From(mask, new[] { batch, length, 1 }, device)), new Variable(Tensor.From(counts, new[] { batch, 1 }, device)));
    }

    /// <inheritdoc />
    public override string ToString() => $"S4Classifier({Config.Layer} × {Config.NLayers}, d_model={Config.DModel}, classes={Config.NumClasses})";
}
