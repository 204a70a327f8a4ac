using BenchmarkDotNet.Attributes;
using Ssm.Hybrid;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// A pre-norm transformer block (<see cref="TransformerBlock"/>: RMSNorm, multi-head attention with 4 heads of 64,
/// SwiGLU MLP of width 4·d_model) over x [B, L, d_model] at B = 8, d_model = 256 against L, under each attention mask:
/// causal (full), sliding window of 256 keys, causal blocks of 256, and Λ-shaped (64 global tokens + 256 local,
/// LM-Infinite). Causal time grows as L², the others as L (<see cref="SequenceLayerBenchmark"/>; the 16K causal cases
/// take seconds per call: filter, e.g. <c>--filter *TransformerBlock* --job short</c>).
/// </summary>
[Config(typeof(ThroughputConfig<TransformerBlockBenchmarks>))]
public class TransformerBlockBenchmarks : SequenceLayerBenchmark
{
    private static int Heads => Program.Smoke ? 2 : 4;
    private static int Span => Program.Smoke ? 4 : 256;

    [Params("causal", "sliding", "block", "lambda")]
    public string Mask { get; set; } = "causal";

    protected override bool BatchFirst => true;

    protected override (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng)
    {
        var mask = Mask switch
        {
            "causal" => AttentionMask.Causal,
            "sliding" => AttentionMask.SlidingWindow(Span),
            "block" => AttentionMask.Block(Span, causal: true),
            "lambda" => AttentionMask.LambdaShaped(Span / 4, Span),
            _ => throw new ArgumentException($"TransformerBlockBenchmarks: unknown mask '{Mask}'."),
        };
        var block = new TransformerBlock(new AttentionConfig { DModel = Width, NumHeads = Heads, HeadDim = Width / Heads, Mask = mask },
            new BlockConfig { DIntermediate = 4 * Width }, rng);
        return (block, x => block.Forward(x));
    }
}
