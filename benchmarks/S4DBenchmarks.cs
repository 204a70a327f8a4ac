using BenchmarkDotNet.Attributes;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4D layer (s4d.py defaults: S4D-Lin, ZOH, channel-first [B, H, L]) at B = 8, H = 256, N = 64 against the sequence
/// length (<see cref="SequenceLayerBenchmark"/>). The side-by-side PyTorch comparison is the "s4d" compare case.
/// </summary>
[Config(typeof(ThroughputConfig<S4DBenchmarks>))]
public class S4DBenchmarks : SequenceLayerBenchmark
{
    protected override (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng) =>
        Layer(new S4D(new S4DConfig { DModel = Width, DState = State }, rng));
}
