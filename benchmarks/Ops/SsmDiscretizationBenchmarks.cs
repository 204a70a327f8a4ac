using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The per-mode parameter maps of S4D and S4 (double precision per mode): ZOH diagonal discretization (x = ΔA, C′) and
/// the DPLR Cauchy inputs (w, v), forward and backward, for H channels × N2 modes (one C channel). M modes/s counts H·N2.
/// They run once per layer call, so they matter only next to the kernels they feed (<see cref="VandermondeBenchmarks"/>,
/// <see cref="CauchyBenchmarks"/>).
/// </summary>
[Config(typeof(ThroughputConfig<SsmDiscretizationBenchmarks>))]
public class SsmDiscretizationBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _dt = null!, _aReal = null!, _aImag = null!, _p = null!, _b = null!, _c = null!;
    private Tensor _dX = null!, _dCPrime = null!, _dW = null!, _dV = null!;

    public static IEnumerable<S4KernelShape> Cases => Pick(new[] { new S4KernelShape(4, 4, 0) },
        new[] { new S4KernelShape(256, 32, 0), new S4KernelShape(1024, 32, 0) });

    [ParamsSource(nameof(Cases))]
    public S4KernelShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (h, n2) = (Shape.Channels, Shape.Modes);
        _dt = Uniform(0.001, 0.1, h);
        _aReal = Uniform(-1, -0.1, h, n2);
        _aImag = Uniform(0, 100, h, n2);
        _p = Normal(h, n2, 2);
        _b = Normal(h, n2, 2);
        _c = Normal(1, h, n2, 2);
        _dX = Normal(h, n2, 2);
        _dCPrime = Normal(1, h, n2, 2);
        _dW = Normal(h, n2, 2);
        _dV = Normal(4, h, n2, 2);
    }

    [Benchmark]
    public void Diagonal()
    {
        using var scope = TensorScope.Begin();
        SsmDiscretization.Diagonal(_dt, _aReal, _aImag, _c, Discretization.Zoh);
    }

    [Benchmark]
    public void DiagonalBackward()
    {
        using var scope = TensorScope.Begin();
        SsmDiscretization.DiagonalBackward(_dt, _aReal, _aImag, _c, Discretization.Zoh, _dX, _dCPrime);
    }

    [Benchmark]
    public void DplrCauchyInputs()
    {
        using var scope = TensorScope.Begin();
        SsmDiscretization.DplrCauchyInputs(_dt, _aReal, _aImag, _p, _b, _c);
    }

    [Benchmark]
    public void DplrCauchyInputsBackward()
    {
        using var scope = TensorScope.Begin();
        SsmDiscretization.DplrCauchyInputsBackward(_dt, _aReal, _aImag, _p, _b, _c, _dW, _dV);
    }

    public static string Unit => "Mmode/s";
    public static double Work(BenchmarkCase c) => Param<S4KernelShape>(c, nameof(Shape)).ModeCount * 1e3;
}
