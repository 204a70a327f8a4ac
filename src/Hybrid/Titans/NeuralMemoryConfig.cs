using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// Hyper-parameters of a Titans neural long-term memory layer (<see cref="NeuralMemory"/>). The memory of each head is an
/// MLP of <see cref="Depth"/> layers HeadDim → HeadDim·Expansion → … → HeadDim. θ = MaxLearningRate·sigmoid(·),
/// η = sigmoid(·) and α = sigmoid(·) come from one linear map of the input per head, initialized at the given biases.
/// </summary>
public sealed record NeuralMemoryConfig
{
    /// <summary>Model width (input and output of the layer).</summary>
    public int DModel { get; init; }
    /// <summary>Number of independent memories (heads).</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Key/value/query width per head (the memory MLP's input and output width).</summary>
    public int HeadDim { get; init; } = 32;
    /// <summary>Layers of the memory MLP (≥ 1; 1 is a linear memory).</summary>
    public int Depth { get; init; } = 2;
    /// <summary>Hidden width of the memory MLP = HeadDim · Expansion.</summary>
    public int Expansion { get; init; } = 4;
    /// <summary>Activation of the memory MLP: <see cref="UnaryOp.Silu"/> or <see cref="UnaryOp.Gelu"/>.</summary>
    public UnaryOp Activation { get; init; } = UnaryOp.Silu;
    /// <summary>Tokens per chunk of the parallel update (gradients at chunk-start weights); 1 = token by token.</summary>
    public int ChunkSize { get; init; } = 16;
    /// <summary>Width of the causal depthwise convolutions after the q/k/v projections (0: none, SiLU only).</summary>
    public int ConvWidth { get; init; } = 4;
    /// <summary>Largest inner learning rate θ (θ = MaxLearningRate·sigmoid).</summary>
    public float MaxLearningRate { get; init; } = 0.1f;
    /// <summary>Use the momentum (past surprise) term; false sets η = 0.</summary>
    public bool Momentum { get; init; } = true;
    /// <summary>
    /// When set, each token's memory gradient is scaled down to at most this Frobenius norm (stability; null disables).
    /// The default 4 keeps the default configuration finite over 16K-token random streams, which diverge without it.
    /// </summary>
    public float? MaxGradNorm { get; init; } = 4f;
    /// <summary>
    /// When set, the backward through the chain of chunk updates is clipped: the gradient w.r.t. each chunk-end memory
    /// state (per layer of the memory MLP and per head) is scaled down to at most this Frobenius norm before it flows
    /// back (null: the exact gradient). The exact gradient grows exponentially over chunks when the inner steps are large
    /// (with the default θ ≤ 0.1 it overflows float32 within 8K tokens at head width 16); the default 1 keeps training
    /// finite over any length and leaves gradients below it untouched (for mean-reduced losses the healthy ones are far
    /// below 1). See <see cref="NeuralMemoryScanOptions.MaxStateGradNorm"/>.
    /// </summary>
    public float? MaxStateGradNorm { get; init; } = 1f;
    /// <summary>Initial bias of θ's logit (sigmoid(0) = 0.5: θ starts at half the maximum).</summary>
    public float LearningRateBias { get; init; }
    /// <summary>Initial bias of η's logit (1: η ≈ 0.73).</summary>
    public float MomentumBias { get; init; } = 1f;
    /// <summary>Initial bias of α's logit (−4: α ≈ 0.018, little forgetting).</summary>
    public float DecayBias { get; init; } = -4f;
    /// <summary>Epsilon of the normalizations (ℓ2 of q and k, output RMSNorm).</summary>
    public float NormEps { get; init; } = 1e-5f;

    /// <summary>Width of all heads together.</summary>
    public int InnerDim => Heads * HeadDim;
    /// <summary>Hidden width of the memory MLP.</summary>
    public int Hidden => HeadDim * Expansion;

    /// <summary>The memory MLP's widths d_0 … d_Depth.</summary>
    public int[] LayerDims() => Enumerable.Range(0, Depth + 1).Select(l => l == 0 || l == Depth ? HeadDim : Hidden).ToArray();

    /// <summary>Options for <see cref="NeuralMemoryScan.Run"/>.</summary>
    public NeuralMemoryScanOptions ScanOptions => new(ChunkSize, Activation, MaxGradNorm, MaxStateGradNorm);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"NeuralMemoryConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(Heads > 0, $"heads must be positive, got {Heads}");
        Need(HeadDim > 0, $"head_dim must be positive, got {HeadDim}");
        Need(Depth >= 1, $"depth must be at least 1, got {Depth}");
        Need(Expansion >= 1, $"expansion must be at least 1, got {Expansion}");
        Need(NeuralMemoryOps.SupportsActivation(Activation), $"activation must be Silu or Gelu, got {Activation}");
        Need(ChunkSize >= 1, $"chunk_size must be at least 1, got {ChunkSize}");
        Need(ConvWidth >= 0, $"conv_width must be non-negative, got {ConvWidth}");
        Need(MaxLearningRate > 0, $"max_learning_rate must be positive, got {MaxLearningRate}");
        Need(MaxGradNorm is null || MaxGradNorm > 0, $"max_grad_norm must be positive when set, got {MaxGradNorm}");
        Need(MaxStateGradNorm is null || (MaxStateGradNorm > 0 && float.IsFinite(MaxStateGradNorm.Value)), $"max_state_grad_norm must be positive and finite when set, got {MaxStateGradNorm}");
        Need(NormEps > 0, $"norm_eps must be positive, got {NormEps}");
    }
}
