using BenchmarkDotNet.Attributes;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4 (DPLR) layer (s4.py S4Block defaults: HiPPO-LegS, bilinear kernel from Cauchy sums + Woodbury + irfft,
/// channel-first [B, H, L]) at B = 8, H = 256, N = 64 against the sequence length (<see cref="SequenceLayerBenchmark"/>).
/// </summary>
[Config(typeof(ThroughputConfig<S4BlockBenchmarks>))]
public class S4BlockBenchmarks : SequenceLayerBenchmark
{
    protected override (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng) =>
        Layer(new S4Block(new S4Config { DModel = Width, DState = State }, rng));
}
