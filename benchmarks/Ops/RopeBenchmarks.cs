using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Rotary position embedding of x [batch, heads, length, 64] (heads = channels/64; half-split pairs, full rotary dim):
/// apply and its backward. GB/s counts x read and y written.
/// </summary>
[Config(typeof(ThroughputConfig<RopeBenchmarks>))]
public class RopeBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!;

    private static int HeadDim => Program.Smoke ? 8 : 64;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 8, 16) },
        new[] { new SequenceShape(8, 1024, 768), new SequenceShape(1, 16384, 512) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => _x = Normal(Shape.Batch, Shape.Channels / HeadDim, Shape.Length, HeadDim);

    [Benchmark]
    public void Apply()
    {
        using var scope = TensorScope.Begin();
        Rope.Apply(_x);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Rope.Backward(_x);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats(2 * Param<SequenceShape>(c, nameof(Shape)).Elements);
}
