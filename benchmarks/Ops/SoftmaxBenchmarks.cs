using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Softmax and log-softmax over the last dimension of x [rows, width] (attention-score rows and vocabulary rows):
/// forward and backward; GB/s counts x read and y written (forward), y and dy read and dx written (backward).
/// </summary>
[Config(typeof(ThroughputConfig<SoftmaxBenchmarks>))]
public class SoftmaxBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _y = null!, _dy = null!;

    public static IEnumerable<RowsShape> Cases => Pick(new[] { new RowsShape(6, 33) }, new[] { new RowsShape(8192, 1024), new RowsShape(256, 32000) });

    [ParamsSource(nameof(Cases))]
    public RowsShape Shape { get; set; } = null!;

    [Params(false, true)]
    public bool Log { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Rows, Shape.Width);
        _dy = Normal(Shape.Rows, Shape.Width);
        _y = Keep(Softmax.Forward(_x, Log));
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        Softmax.Forward(_x, Log);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Softmax.Backward(_y, _dy, Log);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats((Method(c) == nameof(Forward) ? 2 : 3) * Param<RowsShape>(c, nameof(Shape)).Elements);
}
