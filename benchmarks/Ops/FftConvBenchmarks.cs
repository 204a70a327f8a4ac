using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4/S4D causal FFT convolution of u [batch, channels, length] with a shared kernel k [channels, length]: forward
/// and backward (du and dk). GFLOP/s counts the real transforms of length n = <see cref="FftConv.TransformLength"/>
/// (2.5·n·log₂n each): forward B·H + H + B·H, backward B·H (rfft dy) + B·H (rfft u) + H (rfft k) + B·H + H (inverses).
/// </summary>
[Config(typeof(ThroughputConfig<FftConvBenchmarks>))]
public class FftConvBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _u = null!, _k = null!, _dy = null!;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 16, 4) },
        new[] { new SequenceShape(8, 1024, 256), new SequenceShape(8, 4096, 256), new SequenceShape(2, 16384, 256) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _u = Normal(Shape.Batch, Shape.Channels, Shape.Length);
        _dy = Normal(Shape.Batch, Shape.Channels, Shape.Length);
        _k = Normal(Shape.Channels, Shape.Length);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        FftConv.Causal(_u, _k);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        FftConv.CausalBackward(_u, _k, _dy);
    }

    public static string Unit => "GFLOP/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<SequenceShape>(c, nameof(Shape));
        int n = FftConv.TransformLength(s.Length);
        double rows = (double)s.Batch * s.Channels;
        double transforms = Method(c) == nameof(Forward) ? 2 * rows + s.Channels : 3 * rows + 2.0 * s.Channels;
        return transforms * 2.5 * n * Math.Log2(n);
    }
}
