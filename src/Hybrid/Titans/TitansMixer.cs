using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// The token mixer of one Titans block (MAC, MAG or MAL): persistent memory tokens (<c>persistent</c>, when configured),
/// attention (<c>attention</c>) and a neural memory (<c>memory</c>), plus the variant's own combination. Both forms:
/// <see cref="Forward(Variable)"/> over a sequence from its start (training), and <see cref="Forward(Variable, TitansLayerCache)"/>
/// continuing an inference cache (chunked prefill, and one token at a time for generation); the two are equal.
/// </summary>
public abstract class TitansMixer : Module
{
    /// <summary>Creates the shared parts.</summary>
    protected TitansMixer(TitansConfig config, Rng rng, Device device)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        if (config.PersistentTokens > 0)
            Persistent = RegisterModule("persistent", new PersistentMemory(config.PersistentTokens, config.DModel, rng, device));
        Attention = RegisterModule("attention", new TitansAttention(config.DModel, config.AttentionHeads, config.AttentionHeadDim, config.RopeBase, rng, device));
        Memory = RegisterModule("memory", new NeuralMemory(config.Memory, rng, device));
    }

    /// <summary>The model configuration.</summary>
    public TitansConfig Config { get; }
    /// <summary>The persistent-memory tokens, or null when there are none.</summary>
    public PersistentMemory? Persistent { get; }
    /// <summary>The attention.</summary>
    public TitansAttention Attention { get; }
    /// <summary>The neural long-term memory.</summary>
    public NeuralMemory Memory { get; }

    /// <summary>Number of persistent tokens.</summary>
    protected int PersistentCount => Persistent?.Count ?? 0;

    /// <summary>The mixer over x [batch, length, d_model] from the start of a sequence.</summary>
    public abstract Variable Forward(Variable x);

    /// <summary>The mixer over x [batch, length, d_model] continuing <paramref name="cache"/>, which it advances (no gradients into the cache).</summary>
    public abstract Variable Forward(Variable x, TitansLayerCache cache);

    /// <summary>The inference state at the start of a sequence (persistent tokens already consumed).</summary>
    public abstract TitansLayerCache AllocateCache(int batch);

    /// <summary>Checks x [batch, length, d_model] (and the cache's batch); returns (batch, length).</summary>
    protected (int Batch, int Length) CheckInput(string op, Variable x, TitansLayerCache? cache = null)
    {
        Guard.Rank(op, x.Data, "x", 3, "[batch, length, d_model]");
        Guard.Shape(op, x.Data, "x", new[] { -1, -1, Config.DModel }, $"[batch, length, {Config.DModel}] (d_model)");
        if (cache is not null)
            Guard.That(cache.Memory.Batch == x.Size(0), op, nameof(cache), $"cache holds {cache.Memory.Batch} sequences, expected {x.Size(0)} (the batch of x).");
        return (x.Size(0), x.Size(1));
    }

    /// <summary>
    /// Sliding-window attention over input rows [B, np + L, d_model] whose first np rows are the persistent part (global
    /// keys): queries for the last L rows; returns [B, L, d_model].
    /// </summary>
    protected Variable SlidingAttention(Variable input)
    {
        int np = PersistentCount, length = input.Size(1) - np;
        var (q, k, v) = Attention.Project(input);
        var qx = Attention.Rotate(np == 0 ? q : F.Narrow(q, 2, np, length), np);
        return Attention.Attend(qx, Attention.Rotate(k, 0), v, AttentionMask.LambdaShaped(np, Config.Window), np);
    }

    /// <summary>
    /// Sliding-window attention of new rows [B, L, d_model] continuing the cached window (persistent rows and the last
    /// Window tokens); the cache keeps the persistent rows and the last Window tokens afterwards.
    /// </summary>
    protected Variable SlidingAttention(Variable input, TitansLayerCache cache)
    {
        int np = cache.PrefixRows, cached = cache.Keys.Size(2), length = input.Size(1);
        var (q, k, v) = Attention.Project(input);
        q = Attention.Rotate(q, np + cache.Position);
        k = Attention.Rotate(k, np + cache.Position);
        var keys = Layout.Concat(new[] { cache.Keys, k.Data }, 2);
        var values = Layout.Concat(new[] { cache.Values, v.Data }, 2);
        var y = Attention.Attend(q, new Variable(keys), new Variable(values), AttentionMask.LambdaShaped(np, Config.Window), cached);
        int tokens = cached + length - np, keep = Math.Min(tokens, Config.Window);
        cache.SetKeysValues(KeepRows(keys, np, keep), KeepRows(values, np, keep));
        return y;
    }

    /// <summary>The first <paramref name="prefix"/> rows and the last <paramref name="last"/> rows of x [B, H, rows, D] along dim 2.</summary>
    protected static Tensor KeepRows(Tensor x, int prefix, int last)
    {
        int rows = x.Size(2);
        if (prefix + last >= rows) return x;
        var tail = Layout.Narrow(x, 2, rows - last, last);
        return prefix == 0 ? tail : Layout.Concat(new[] { Layout.Narrow(x, 2, 0, prefix), tail }, 2);
    }

    /// <summary>Rotated keys and values [B, heads, np, head_dim] of the persistent tokens' rows of <paramref name="prefixInput"/>.</summary>
    protected (Variable K, Variable V) PrefixKeysValues(Variable prefixInput)
    {
        var (_, k, v) = Attention.Project(prefixInput);
        return (Attention.Rotate(k, 0), v);
    }

    /// <summary>Empty keys/values [B, heads, 0, head_dim] (no persistent tokens).</summary>
    protected Tensor EmptyKeys(int batch) => Tensor.Zeros(new[] { batch, Attention.Heads, 0, Attention.HeadDim }, DType.Float32, Memory.OutProj.Weight.Device);
}

/// <summary>
/// Titans MAG (memory as a gate, §4.2): x̃ = [persistent ‖ x]; y = sliding-window attention over x̃ (persistent tokens
/// global); m = the neural memory over x̃; out = out_proj(RMSNorm(y) ⊙ σ(RMSNorm(m))) (parameters <c>attn_norm</c>,
/// <c>memory_norm</c>, <c>out_proj</c>).
/// </summary>
public sealed class MagLayer : GatedTitansMixer
{
    /// <summary>Creates the layer.</summary>
    public MagLayer(TitansConfig config, Rng rng, Device? device = null) : base(config, rng, device ?? Device.Default) { }

    /// <inheritdoc />
    public override Variable Forward(Variable x)
    {
        var (batch, length) = CheckInput("MagLayer.Forward", x);
        int np = PersistentCount;
        var input = Persistent?.Prepend(x) ?? x;
        var m = Memory.Forward(input);
        return Gate(SlidingAttention(input), np == 0 ? m : F.Narrow(m, 1, np, length));
    }

    /// <inheritdoc />
    public override Variable Forward(Variable x, TitansLayerCache cache)
    {
        var (_, length) = CheckInput("MagLayer.Forward", x, cache);
        var (m, next) = Memory.Forward(x, cache.Memory.AsStream());
        cache.Memory.Store(next);
        var y = SlidingAttention(x, cache);
        cache.Position += length;
        return Gate(y, m);
    }

    /// <inheritdoc />
    public override TitansLayerCache AllocateCache(int batch)
    {
        Guard.Positive("MagLayer.AllocateCache", nameof(batch), batch);
        using var noGrad = Autograd.NoGrad();
        var memory = new NeuralMemoryCache(Memory, batch);
        if (Persistent is null) return new TitansLayerCache(memory, EmptyKeys(batch), EmptyKeys(batch));
        var p = Persistent.Expand(batch);
        memory.Store(Memory.Forward(p, memory.AsStream()).Next);
        var (k, v) = PrefixKeysValues(p);
        return new TitansLayerCache(memory, k.Data, v.Data);
    }
}

/// <summary>
/// Titans MAL (memory as a layer, §4.3): x̃ = [persistent ‖ x]; y = the neural memory over x̃; out = sliding-window
/// attention over y (the persistent rows of y are global keys).
/// </summary>
public sealed class MalLayer : TitansMixer
{
    /// <summary>Creates the layer.</summary>
    public MalLayer(TitansConfig config, Rng rng, Device? device = null) : base(config, rng, device ?? Device.Default) { }

    /// <inheritdoc />
    public override Variable Forward(Variable x)
    {
        CheckInput("MalLayer.Forward", x);
        return SlidingAttention(Memory.Forward(Persistent?.Prepend(x) ?? x));
    }

    /// <inheritdoc />
    public override Variable Forward(Variable x, TitansLayerCache cache)
    {
        var (_, length) = CheckInput("MalLayer.Forward", x, cache);
        var (y, next) = Memory.Forward(x, cache.Memory.AsStream());
        cache.Memory.Store(next);
        var o = SlidingAttention(y, cache);
        cache.Position += length;
        return o;
    }

    /// <inheritdoc />
    public override TitansLayerCache AllocateCache(int batch)
    {
        Guard.Positive("MalLayer.AllocateCache", nameof(batch), batch);
        using var noGrad = Autograd.NoGrad();
        var memory = new NeuralMemoryCache(Memory, batch);
        if (Persistent is null) return new TitansLayerCache(memory, EmptyKeys(batch), EmptyKeys(batch));
        var (yp, next) = Memory.Forward(Persistent.Expand(batch), memory.AsStream());
        memory.Store(next);
        var (k, v) = PrefixKeysValues(yp);
        return new TitansLayerCache(memory, k.Data, v.Data);
    }
}
