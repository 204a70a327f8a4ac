using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Reductions of x [rows, width]: sum and max over the last dimension, sum over the first (strided columns), sum of all
/// elements; GB/s counts x read once.
/// </summary>
[Config(typeof(ThroughputConfig<ReductionsBenchmarks>))]
public class ReductionsBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!;

    public static IEnumerable<RowsShape> Cases => Pick(new[] { new RowsShape(6, 33) }, new[] { new RowsShape(8192, 768), new RowsShape(64, 262144) });

    [ParamsSource(nameof(Cases))]
    public RowsShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => _x = Normal(Shape.Rows, Shape.Width);

    [Benchmark]
    public void SumLastDim()
    {
        using var scope = TensorScope.Begin();
        Reductions.Sum(_x, -1);
    }

    [Benchmark]
    public void SumFirstDim()
    {
        using var scope = TensorScope.Begin();
        Reductions.Sum(_x, 0);
    }

    [Benchmark]
    public void MaxLastDim()
    {
        using var scope = TensorScope.Begin();
        Reductions.Max(_x, -1);
    }

    [Benchmark]
    public void SumAll()
    {
        using var scope = TensorScope.Begin();
        Reductions.Sum(_x);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats(Param<RowsShape>(c, nameof(Shape)).Elements);
}
