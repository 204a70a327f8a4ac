using BenchmarkDotNet.Attributes;
using Ssm.Hybrid;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Benchmarks;

/// <summary>
/// Hybrid stacks as language models (<see cref="HybridLM"/>, d_model 256, 4 layers, attention 4 heads of 64, vocabulary
/// 256, batch 1; <see cref="LanguageModelWorkload"/>): "interleaved" is Jamba's layout with one causal attention layer
/// per three Mamba-2 layers (MMMA; Mamba-2 d_state 64, chunk 64); "mixed-span" is MASFormer's, all attention, full
/// causal attention in the last layer and a 256-key sliding window in the others. Forward + loss (no grad) and one
/// training step (forward + cross-entropy + backward) against L; reports K tokens/s.
/// </summary>
[Config(typeof(ThroughputConfig<HybridLMBenchmarks>))]
public class HybridLMBenchmarks : LanguageModelBenchmark
{
    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 16 } : new[] { 1024, 4096 };

    [Params("interleaved", "mixed-span")]
    public string Stack { get; set; } = "interleaved";

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    protected override LanguageModelWorkload CreateWorkload()
    {
        int d = Program.Smoke ? 16 : 256, heads = Program.Smoke ? 2 : 4, layers = 4, vocab = Program.Smoke ? 11 : 256;
        int window = Program.Smoke ? 4 : 256, chunk = Program.Smoke ? 8 : 64, state = Program.Smoke ? 8 : 64;
        var config = new HybridConfig
        {
            DModel = d, VocabSize = vocab,
            Layers = Stack switch
            {
                "interleaved" => HybridPattern.Jamba(layers, 4, 3),
                "mixed-span" => HybridPattern.MasFormer(layers, new[] { layers - 1 }, AttentionMask.SlidingWindow(window)),
                _ => throw new ArgumentException($"HybridLMBenchmarks: unknown stack '{Stack}'."),
            },
            Mamba = new Mamba2Config { DModel = d, DState = state, HeadDim = d / heads, ChunkSize = chunk },
            Attention = new AttentionConfig { DModel = d, NumHeads = heads, HeadDim = d / heads, Mask = AttentionMask.Causal },
        };
        return new LanguageModelWorkload(new HybridLM(config, new Rng(1), Device.Cpu), 1, Length, vocab);
    }
}
