using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The linear scan h_t = a_t ⊙ h_{t−1} + x_t over dimension 1 of [batch, T, inner], from an initial state — short and
/// wide as in the SSD inter-chunk state passing (T = 64 chunks of a 4K sequence, inner = heads·headdim·d_state):
/// forward and backward (da, dx, dh0). GB/s counts a and x read, h written (forward); a, h, dh read, da and dx written
/// (backward).
/// </summary>
[Config(typeof(ThroughputConfig<LinearScanBenchmarks>))]
public class LinearScanBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _a = null!, _x = null!, _h0 = null!, _h = null!, _dh = null!;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 8, 16) },
        new[] { new SequenceShape(1, 64, 24 * 64 * 128), new SequenceShape(8, 64, 8 * 64 * 64) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _a = Uniform(0.5, 1, Shape.Batch, Shape.Length, Shape.Channels);
        _x = Normal(Shape.Batch, Shape.Length, Shape.Channels);
        _dh = Normal(Shape.Batch, Shape.Length, Shape.Channels);
        _h0 = Normal(Shape.Batch, Shape.Channels);
        _h = Keep(LinearScan.Forward(_a, _x, _h0));
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        LinearScan.Forward(_a, _x, _h0);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        LinearScan.Backward(_a, _h, _dh, _h0);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats((Method(c) == nameof(Forward) ? 3 : 5) * Param<SequenceShape>(c, nameof(Shape)).Elements);
}
