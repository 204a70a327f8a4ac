using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.S4;

namespace Ssm.Hybrid;

// Pre-norm residual block (mamba_ssm/modules/block.py, GPT-2/Llama pre-norm):
//   x = x + dropout(mixer(norm(x)))
//   x = x + dropout(mlp(norm2(x)))          (only when the block has an MLP)
// mamba_ssm carries (hidden, residual) and adds before the next norm; the sums are the same.

/// <summary>
/// A pre-norm residual block: <c>norm</c> → <c>mixer</c> → residual, then (when the block config has d_intermediate &gt; 0)
/// <c>norm2</c> → <c>mlp</c> → residual, with residual dropout. The mixer is <see cref="MultiHeadAttention"/> (a
/// Transformer block), a Mamba-2 mixer (the M layers of hybrid stacks; with no MLP the parameter names equal
/// mamba_ssm's Mamba block: <c>norm.weight</c>, <c>mixer.*</c>) or a causal S4D layer (batch-first). Both forms: <see cref="Forward"/> over a sequence
/// (with the mixer's state: chunked prefill) and <see cref="Step"/> for one token.
/// </summary>
public sealed class TransformerBlock : Module
{
    private readonly IForward _norm;
    private readonly IForward? _norm2;

    /// <summary>A Transformer block: multi-head attention with <paramref name="attention"/>.</summary>
    public TransformerBlock(AttentionConfig attention, BlockConfig block, Rng rng, Device? device = null)
        : this(new MultiHeadAttention(attention ?? throw new ArgumentNullException(nameof(attention)), rng, device), attention.DModel, block, rng, device) { }

    /// <summary>A Mamba-2 block: the mixer <see cref="Mamba2"/> with <paramref name="mamba"/>.</summary>
    public TransformerBlock(Mamba2Config mamba, BlockConfig block, Rng rng, Device? device = null)
        : this(new Mamba2(mamba ?? throw new ArgumentNullException(nameof(mamba)), rng, device), mamba.DModel, block, rng, device) { }

    /// <summary>An S4D block: the mixer <see cref="S4D"/> with <paramref name="s4d"/> (causal and batch-first: Transposed = false, Bidirectional = false).</summary>
    public TransformerBlock(S4DConfig s4d, BlockConfig block, Rng rng, Device? device = null)
        : this(new S4D(CheckedS4D(s4d), rng, device), s4d.DModel, block, rng, device) { }

    private TransformerBlock(Module mixer, int dModel, BlockConfig block, Rng rng, Device? device)
    {
        ArgumentNullException.ThrowIfNull(block);
        block.Validate();
        Config = block;
        DModel = dModel;
        Norm = RegisterModule("norm", MakeNorm(block, dModel, device));
        _norm = (IForward)Norm;
        Mixer = RegisterModule("mixer", mixer);
        if (block.DIntermediate > 0)
        {
            Norm2 = RegisterModule("norm2", MakeNorm(block, dModel, device));
            _norm2 = (IForward)Norm2;
            Mlp = RegisterModule("mlp", new Mlp(dModel, block.DIntermediate, block.Mlp, block.MlpBias, rng, device));
        }
        if (block.Dropout > 0) Dropout = RegisterModule("dropout", new Dropout(block.Dropout, rng));
    }

    /// <summary>The block settings.</summary>
    public BlockConfig Config { get; }
    /// <summary>Model width.</summary>
    public int DModel { get; }
    /// <summary>The norm before the mixer (<see cref="RmsNorm"/> or <see cref="LayerNorm"/>).</summary>
    public Module Norm { get; }
    /// <summary>The sequence mixer: <see cref="MultiHeadAttention"/>, <see cref="Mamba2"/> or <see cref="S4D"/>.</summary>
    public Module Mixer { get; }
    /// <summary>The norm before the MLP, or null without an MLP.</summary>
    public Module? Norm2 { get; }
    /// <summary>The MLP, or null.</summary>
    public Mlp? Mlp { get; }
    /// <summary>Residual dropout, or null when the probability is 0.</summary>
    public Dropout? Dropout { get; }

    /// <summary>The mixer as attention, or null for a Mamba block.</summary>
    public MultiHeadAttention? Attention => Mixer as MultiHeadAttention;

    /// <summary>
    /// A zero inference state for <paramref name="batch"/> sequences: an <see cref="AttentionCache"/> (causal caches
    /// preallocate <paramref name="maxLength"/> slots), a <see cref="Mamba2State"/> or an <see cref="S4DState"/>.
    /// </summary>
    public IDisposable AllocateState(int batch, int? maxLength = null) => Mixer switch
    {
        MultiHeadAttention a => a.AllocateCache(batch, maxLength),
        S4D s => s.AllocateState(batch),
        _ => ((Mamba2)Mixer).AllocateState(batch),
    };

    /// <summary>
    /// The block over x [batch, length, d_model]. With <paramref name="state"/> (from <see cref="AllocateState"/>), the
    /// sequence continues from it and the state advances (chunked prefill).
    /// </summary>
    public Variable Forward(Variable x, IDisposable? state = null)
    {
        var h = _norm.Forward(x);
        var mixed = Mixer switch
        {
            MultiHeadAttention a => a.Forward(h, state is null ? null : As<AttentionCache>(state)),
            S4D s => s.Forward(h, state is null ? null : As<S4DState>(state)),
            _ => ((Mamba2)Mixer).Forward(h, state is null ? null : As<Mamba2State>(state)),
        };
        x = F.Add(x, Drop(mixed));
        if (Mlp is not null) x = F.Add(x, Drop(Mlp.Forward(_norm2!.Forward(x))));
        return x;
    }

    /// <summary>One token xt [batch, d_model] → [batch, d_model], advancing <paramref name="state"/>. No autograd.</summary>
    public Tensor Step(IDisposable state, Tensor xt)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var noGrad = Autograd.NoGrad();
        var h = _norm.Forward(new Variable(xt)).Data;
        var mixed = Mixer switch
        {
            MultiHeadAttention a => a.Step(As<AttentionCache>(state), h),
            S4D s => s.Step(As<S4DState>(state), h),
            _ => ((Mamba2)Mixer).Step(As<Mamba2State>(state), h),
        };
        var y = Elementwise.Add(xt, mixed);
        if (Mlp is not null) y = Elementwise.Add(y, Mlp.Forward(_norm2!.Forward(new Variable(y))).Data);
        return y;
    }

    private Variable Drop(Variable x) => Dropout is null ? x : Dropout.Forward(x);

    private static T As<T>(IDisposable state) where T : class => state as T
        ?? throw new ArgumentException($"TransformerBlock: state is a {state.GetType().Name}, expected the {typeof(T).Name} of this block's mixer (AllocateState).", nameof(state));

    private static S4DConfig CheckedS4D(S4DConfig s4d)
    {
        ArgumentNullException.ThrowIfNull(s4d);
        if (s4d.Transposed || s4d.Bidirectional)
            throw new ArgumentException($"TransformerBlock: an S4D mixer must be batch-first and causal (Transposed = false, Bidirectional = false); " +
                $"got Transposed = {s4d.Transposed}, Bidirectional = {s4d.Bidirectional}.", nameof(s4d));
        return s4d;
    }

    internal static Module MakeNorm(BlockConfig block, int dim, Device? device) => block.Norm == NormKind.RmsNorm
        ? new RmsNorm(dim, (float)block.NormEps, device)
        : new LayerNorm(dim, (float)block.NormEps, bias: true, device);

    /// <inheritdoc />
    public override string ToString() => $"TransformerBlock({Mixer}{(Mlp is null ? "" : $", {Mlp}")})";
}
