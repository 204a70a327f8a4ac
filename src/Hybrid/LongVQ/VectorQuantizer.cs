using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

// Vector quantizer of LongVQ / Transformer-VQ keys (van den Oord et al. 2017; Razavi et al. 2019 for the EMA codebook;
// Lingle 2023, transformer-vq/transformer_vq src/transformer_vq/nn/vq.py):
//   z = argmin_s ‖k − c_s‖²,  k̂ = c_z with the straight-through gradient (dk = dk̂),
//   commitment loss β·mean_rows ‖k − sg(k̂)‖²,
//   codebook by EMA (no gradient): N ← γN + (1−γ)n,  M ← γM + (1−γ)Σ_{z_j = s} k_j,  c = M/Ñ (Laplace-smoothed N),
//   dead codes: a code that received fewer than `deadCodeMinCount` keys since the last check is re-seeded from a random
//   key of the current batch (same head), drawn with the quantizer's seeded Rng. The first check runs at the first
//   training update, so unused initial codes start from data.

/// <summary>What <see cref="VectorQuantizer.Forward"/> returns.</summary>
/// <param name="Quantized">k̂ [B, H, T, D] (codewords) with the straight-through gradient to the keys.</param>
/// <param name="Codes">z [B, H, T] (int32).</param>
/// <param name="Codebook">The codebook [H, S, D] the codes index, as it was when quantizing (a snapshot: the EMA update
/// that follows changes the module's codebook in place, not this tensor).</param>
/// <param name="CommitmentLoss">β·mean ‖k − sg(k̂)‖², a scalar.</param>
public sealed record VectorQuantizerOutput(Variable Quantized, Tensor Codes, Tensor Codebook, Variable CommitmentLoss);

/// <summary>
/// A per-head vector quantizer with an EMA-learned codebook: buffers <c>codebook</c> [H, S, D], <c>ema_count</c>
/// [H, S] and <c>ema_sum</c> [H, S, D] (saved in the state dict). <see cref="Forward"/> quantizes keys [B, H, T, D]
/// and, in training mode with gradients enabled, updates the codebook by EMA and re-seeds dead codes.
/// </summary>
public sealed class VectorQuantizer : Module
{
    private readonly ModuleBuffer _usage;
    private readonly Rng _rng;
    private int _updates;

    /// <summary>Creates a quantizer with a codebook N(0, <paramref name="initStd"/>²), EMA counts 1 and sums equal to the codebook.</summary>
    public VectorQuantizer(int heads, int codebookSize, int dim, Rng rng, Device? device = null, float commitmentWeight = 1e-4f,
        float decay = 0.99f, float epsilon = 1e-5f, int deadCodeInterval = 100, float deadCodeMinCount = 1f, double initStd = 1.0)
    {
        const string op = "VectorQuantizer";
        Guard.Positive(op, nameof(heads), heads);
        Guard.Positive(op, nameof(codebookSize), codebookSize);
        Guard.Positive(op, nameof(dim), dim);
        ArgumentNullException.ThrowIfNull(rng);
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, $"{op}: decay must be in [0, 1], got {decay}.");
        if (!(commitmentWeight >= 0)) throw new ArgumentOutOfRangeException(nameof(commitmentWeight), commitmentWeight, $"{op}: commitment weight must be non-negative, got {commitmentWeight}.");
        if (deadCodeInterval < 0) throw new ArgumentOutOfRangeException(nameof(deadCodeInterval), deadCodeInterval, $"{op}: dead-code interval must be ≥ 0 (0 disables), got {deadCodeInterval}.");
        Heads = heads;
        CodebookSize = codebookSize;
        Dim = dim;
        CommitmentWeight = commitmentWeight;
        Decay = decay;
        Epsilon = epsilon;
        DeadCodeInterval = deadCodeInterval;
        DeadCodeMinCount = deadCodeMinCount;
        var d = device ?? Device.Default;
        var init = rng.Normal(new[] { heads, codebookSize, dim }, 0, initStd, d);
        Codebook = RegisterBuffer("codebook", init);
        EmaCount = RegisterBuffer("ema_count", Tensor.Ones(new[] { heads, codebookSize }, d));
        EmaSum = RegisterBuffer("ema_sum", init.Clone());
        _usage = RegisterBuffer("usage", Tensor.Zeros(new[] { heads, codebookSize }, DType.Float32, d), persistent: false);
        _rng = rng.Fork();
    }

    /// <summary>Number of heads H (one codebook each).</summary>
    public int Heads { get; }
    /// <summary>Codes per codebook S.</summary>
    public int CodebookSize { get; }
    /// <summary>Key width D.</summary>
    public int Dim { get; }
    /// <summary>β of the commitment loss.</summary>
    public float CommitmentWeight { get; }
    /// <summary>EMA decay γ.</summary>
    public float Decay { get; }
    /// <summary>Laplace smoothing ε of the EMA counts.</summary>
    public float Epsilon { get; }
    /// <summary>Training updates between dead-code checks (0: never re-seed).</summary>
    public int DeadCodeInterval { get; }
    /// <summary>A code with fewer keys than this since the last check is dead.</summary>
    public float DeadCodeMinCount { get; }
    /// <summary>The codebook [H, S, D].</summary>
    public ModuleBuffer Codebook { get; }
    /// <summary>EMA of the per-code counts [H, S].</summary>
    public ModuleBuffer EmaCount { get; }
    /// <summary>EMA of the per-code key sums [H, S, D].</summary>
    public ModuleBuffer EmaSum { get; }
    /// <summary>Codes re-seeded so far (diagnostics).</summary>
    public long ReseededCodes { get; private set; }

    /// <summary>
    /// Quantizes <paramref name="keys"/> [B, H, T, D]; in training mode with gradients enabled, then updates the
    /// codebook (EMA and dead codes) from these keys.
    /// </summary>
    public VectorQuantizerOutput Forward(Variable keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Guard.Rank("VectorQuantizer.Forward", keys.Data, "keys", 4, "[batch, heads, length, D]");
        Guard.Shape("VectorQuantizer.Forward", keys.Data, "keys", new[] { -1, Heads, -1, Dim }, $"[batch, {Heads}, length, {Dim}] (heads, D)");
        var snapshot = Codebook.Data.Clone();
        var (quantized, codes) = F.VectorQuantize(keys, snapshot);
        var commitment = F.CommitmentLoss(keys, quantized.Data, CommitmentWeight);
        if (IsTraining && Autograd.IsGradEnabled) Update(keys.Data, codes);
        return new VectorQuantizerOutput(quantized, codes, snapshot, commitment);
    }

    /// <summary>One EMA update of the codebook from keys [B, H, T, D] and their codes [B, H, T], then a dead-code check when due.</summary>
    public void Update(Tensor keys, Tensor codes)
    {
        Guard.Shape("VectorQuantizer.Update", keys, "keys", new[] { -1, Heads, -1, Dim }, $"[batch, {Heads}, length, {Dim}] (heads, D)");
        Guard.Shape("VectorQuantizer.Update", codes, "codes", keys.Shape[..^1], "(the keys' shape without D)");
        using var scope = TensorScope.Begin();
        int b = keys.Size(0), t = keys.Size(2);
        if (b * t == 0) return;
        var (counts, sums) = VectorQuantize.AggregateByCode(codes, keys, CodebookSize);      // [B, H, 1, S], [B, H, 1, S, D]
        var batchCounts = Reductions.Sum(counts.Reshape(b, Heads * CodebookSize), 0).Reshape(Heads, CodebookSize);
        var batchSums = Reductions.Sum(sums.Reshape(b, Heads * CodebookSize * Dim), 0).Reshape(Heads, CodebookSize, Dim);
        VectorQuantize.EmaUpdate(EmaCount.Data, EmaSum.Data, batchCounts, batchSums, Codebook.Data, Decay, Epsilon);
        Elementwise.Axpy(1f, batchCounts, _usage.Data);
        _updates++;
        if (DeadCodeInterval > 0 && (_updates - 1) % DeadCodeInterval == 0) ReseedDeadCodes(keys);
    }

    /// <summary>Re-seeds every code whose usage since the last check is below <see cref="DeadCodeMinCount"/> from a random key of its head.</summary>
    private void ReseedDeadCodes(Tensor keys)
    {
        var usage = _usage.Data.ToArray();
        _usage.Data.Zero();
        var dead = Enumerable.Range(0, usage.Length).Where(i => usage[i] < DeadCodeMinCount).ToArray();
        if (dead.Length == 0) return;
        int b = keys.Size(0), t = keys.Size(2);
        var rows = dead.Select(i => (_rng.Next(b) * Heads + i / CodebookSize) * t + _rng.Next(t)).ToArray();
        var picked = Kernels.Embedding.Forward(Tensor.From(rows, new[] { rows.Length }, keys.Device), keys.Reshape(-1, Dim)).ToArray();
        var codebook = Codebook.Data.ToArray();
        var sums = EmaSum.Data.ToArray();
        var counts = EmaCount.Data.ToArray();
        for (int k = 0; k < dead.Length; k++)
        {
            int code = dead[k];
            Array.Copy(picked, k * Dim, codebook, code * Dim, Dim);
            Array.Copy(picked, k * Dim, sums, code * Dim, Dim);
            counts[code] = 1f;
        }
        Codebook.Data.CopyFromHost<float>(codebook);
        EmaSum.Data.CopyFromHost<float>(sums);
        EmaCount.Data.CopyFromHost<float>(counts);
        ReseededCodes += dead.Length;
    }

    /// <inheritdoc />
    public override string ToString() => $"VectorQuantizer(heads={Heads}, codes={CodebookSize}, dim={Dim}, decay={Decay})";
}
