using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4D convolution kernel K[h, l] = 2·Re Σ_n c[h, n]·exp(dtA[h, n]·l) (dtA, c [H, N2, 2]): forward and backward
/// (ddtA, dc from dK [H, L]). G terms/s counts the H·N2·L terms.
/// </summary>
[Config(typeof(ThroughputConfig<VandermondeBenchmarks>))]
public class VandermondeBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _dtA = null!, _c = null!, _dK = null!;

    public static IEnumerable<S4KernelShape> Cases => Pick(new[] { new S4KernelShape(4, 4, 16) },
        new[] { new S4KernelShape(256, 32, 1024), new S4KernelShape(256, 32, 4096), new S4KernelShape(256, 32, 16384) });

    [ParamsSource(nameof(Cases))]
    public S4KernelShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dtA = Uniform(-0.01, -1e-4, Shape.Channels, Shape.Modes, 2);
        _c = Normal(Shape.Channels, Shape.Modes, 2);
        _dK = Normal(Shape.Channels, Shape.Length);
    }

    [Benchmark]
    public void Kernel()
    {
        using var scope = TensorScope.Begin();
        Vandermonde.Kernel(_dtA, _c, Shape.Length);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Vandermonde.Backward(_dtA, _c, _dK);
    }

    public static string Unit => "Gterm/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<S4KernelShape>(c, nameof(Shape));
        return s.ModeCount * s.Length;
    }
}
