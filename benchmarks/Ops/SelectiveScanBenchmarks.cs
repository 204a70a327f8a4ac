using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The Mamba-1 selective scan with D skip and SiLU(z) gate over u, Δ, z [batch, length, channels], A [channels, state],
/// B, C [batch, length, state] (channels 1536 = a d_model 768 layer's d_inner, state 16): forward and backward (every
/// gradient); reports M tokens/s (batch·length per call).
/// </summary>
[Config(typeof(ThroughputConfig<SelectiveScanBenchmarks>))]
public class SelectiveScanBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _u = null!, _delta = null!, _z = null!, _a = null!, _b = null!, _c = null!, _d = null!, _dy = null!;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 8, 4) },
        new[] { new SequenceShape(1, 2048, 1536), new SequenceShape(8, 512, 1536) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    public static IEnumerable<int> States => Pick(new[] { 4 }, new[] { 16 });

    [ParamsSource(nameof(States))]
    public int State { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (b, l, d) = (Shape.Batch, Shape.Length, Shape.Channels);
        _u = Normal(b, l, d);
        _z = Normal(b, l, d);
        _dy = Normal(b, l, d);
        _delta = Uniform(0.001, 0.1, b, l, d);
        _a = Uniform(-16, -1, d, State);
        _b = Normal(b, l, State);
        _c = Normal(b, l, State);
        _d = Normal(d);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        SelectiveScan.Forward(_u, _delta, _a, _b, _c, _d, _z);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        SelectiveScan.Backward(_u, _delta, _a, _b, _c, _d, _z, initialState: null, dy: _dy, dFinalState: null);
    }

    public static string Unit => "Mtok/s";
    public static double Work(BenchmarkCase c) => Param<SequenceShape>(c, nameof(Shape)).Tokens * 1e3;
}
