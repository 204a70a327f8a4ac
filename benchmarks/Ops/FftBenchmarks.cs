using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Real FFTs of rows [rows, n]: rfft and irfft at powers of two (radix-2) and one other length (Bluestein). GFLOP/s
/// uses the conventional count of a real transform, 2.5·n·log₂n per row.
/// </summary>
[Config(typeof(ThroughputConfig<FftBenchmarks>))]
public class FftBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _spectrum = null!;

    public static IEnumerable<RowsShape> Cases => Pick(new[] { new RowsShape(3, 32), new RowsShape(3, 30) },
        new[] { new RowsShape(2048, 2048), new RowsShape(256, 32768), new RowsShape(2048, 2000) });

    [ParamsSource(nameof(Cases))]
    public RowsShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Rows, Shape.Width);
        _spectrum = Keep(Fft.Rfft(_x));
    }

    [Benchmark]
    public void Rfft()
    {
        using var scope = TensorScope.Begin();
        Fft.Rfft(_x);
    }

    [Benchmark]
    public void Irfft()
    {
        using var scope = TensorScope.Begin();
        Fft.Irfft(_spectrum, Shape.Width);
    }

    public static string Unit => "GFLOP/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<RowsShape>(c, nameof(Shape));
        return 2.5 * s.Elements * Math.Log2(s.Width);
    }
}
