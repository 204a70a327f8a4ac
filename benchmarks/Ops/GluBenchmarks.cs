using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The fused bias + GLU of the S4/S4D output projection: x [batch, 2H, length] split along dim 1, y = (a + bias)·σ(b +
/// bias) [batch, H, length]; forward and backward (dx, dbias). GB/s counts x read and y written (forward); x and dy
/// read, dx written (backward).
/// </summary>
[Config(typeof(ThroughputConfig<GluBenchmarks>))]
public class GluBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _bias = null!, _dy = null!;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 8, 4) },
        new[] { new SequenceShape(8, 1024, 256), new SequenceShape(8, 4096, 256) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Batch, 2 * Shape.Channels, Shape.Length);
        _bias = Normal(2 * Shape.Channels);
        _dy = Normal(Shape.Batch, Shape.Channels, Shape.Length);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        Glu.Forward(_x, _bias, 1);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Glu.Backward(_x, _bias, 1, _dy);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats((Method(c) == nameof(Forward) ? 3 : 5) * Param<SequenceShape>(c, nameof(Shape)).Elements);
}
