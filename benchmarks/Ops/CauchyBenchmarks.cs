using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4 DPLR kernel's Cauchy products r[b, h, k] = Σ_n v/(z_k − w) + conj terms for S4's four coefficient vectors
/// (v [4, H, N2, 2], poles w [H, N2, 2], K = L/2 + 1 nodes): forward and backward (dv, dw), and the rank-1 Woodbury
/// combination of the four sums. G terms/s counts the 4·H·N2·K Cauchy terms (Woodbury: its H·K outputs).
/// </summary>
[Config(typeof(ThroughputConfig<CauchyBenchmarks>))]
public class CauchyBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _v = null!, _w = null!, _z = null!, _dr = null!, _r = null!, _scale = null!;

    public static IEnumerable<S4KernelShape> Cases => Pick(new[] { new S4KernelShape(4, 4, 16) },
        new[] { new S4KernelShape(256, 32, 1024), new S4KernelShape(256, 32, 4096), new S4KernelShape(256, 32, 16384) });

    [ParamsSource(nameof(Cases))]
    public S4KernelShape Shape { get; set; } = null!;

    private int Nodes => Shape.Length / 2 + 1;

    [GlobalSetup]
    public void Setup()
    {
        // Poles in the third quadrant, nodes in the first: no node meets a pole.
        _v = Normal(4, Shape.Channels, Shape.Modes, 2);
        _w = Uniform(-1, -0.01, Shape.Channels, Shape.Modes, 2);
        _z = Uniform(0, 1, Nodes, 2);
        _dr = Normal(4, Shape.Channels, Nodes, 2);
        _r = Keep(Cauchy.Multiply(_v, _w, _z));
        _scale = Normal(Nodes, 2);
    }

    [Benchmark]
    public void Multiply()
    {
        using var scope = TensorScope.Begin();
        Cauchy.Multiply(_v, _w, _z);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Cauchy.Backward(_v, _w, _z, _dr);
    }

    [Benchmark]
    public void WoodburyRank1()
    {
        using var scope = TensorScope.Begin();
        Cauchy.WoodburyRank1(_r, _scale);
    }

    public static string Unit => "Gterm/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<S4KernelShape>(c, nameof(Shape));
        double nodes = s.Length / 2 + 1;
        return Method(c) == nameof(WoodburyRank1) ? s.Channels * nodes : 4 * s.ModeCount * nodes;
    }
}
