using BenchmarkDotNet.Attributes;
using Ssm.Hybrid.LongVQ;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// A causal LongVQ layer (<see cref="LongVQLayer"/>: damped-EMA + codebook-attention block with 4 heads, block 512,
/// 512 codes, then a feed-forward of width 2·d_model; training mode, so the EMA codebook update runs) over
/// x [B, L, d_model] at B = 8, d_model = 256 against L (<see cref="SequenceLayerBenchmark"/>). Time grows as L; the
/// "longvq_layer" compare case measures it against a transformer block of the same width.
/// </summary>
[Config(typeof(ThroughputConfig<LongVQLayerBenchmarks>))]
public class LongVQLayerBenchmarks : SequenceLayerBenchmark
{
    protected override bool BatchFirst => true;

    protected override (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng)
    {
        int span = Program.Smoke ? 8 : 512;
        var config = new LongVQConfig
        {
            DModel = Width, VocabSize = 1, FfnExpand = 2,
            Block = new LongVQBlockConfig
            {
                ZDim = Width, HDim = Width, NHeads = Program.Smoke ? 2 : 4, CodebookSize = span, BlockLength = span, DeadCodeInterval = 0,
            },
        };
        var layer = new LongVQLayer(config, causal: true, rng, Device.Cpu);
        return (layer, layer.Forward);
    }
}

/// <summary>
/// MEGA's damped EMA alone (<see cref="DampedEma"/>, causal, EMA dimension 16; its kernel by a real-mode Vandermonde
/// product and applied by FFT convolution) over x [B, L, d_model] at B = 8, d_model = 256 against L
/// (<see cref="SequenceLayerBenchmark"/>).
/// </summary>
[Config(typeof(ThroughputConfig<DampedEmaBenchmarks>))]
public class DampedEmaBenchmarks : SequenceLayerBenchmark
{
    protected override bool BatchFirst => true;

    protected override (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng)
    {
        var ema = new DampedEma(Width, 16, bidirectional: false, rng);
        return (ema, ema.Forward);
    }
}
