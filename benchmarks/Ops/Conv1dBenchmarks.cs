using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Mamba-2's causal depthwise conv1d (width 4, bias, fused SiLU) over x [batch, length, channels] (channels = d_inner +
/// 2·d_state of a d_model 768 layer): forward, backward (dx, dweight, dbias) and the recurrent step over a [batch,
/// channels, 4] state. GB/s counts x read and y written (forward); dy and x read, dx written (backward); the state read
/// and written and one token's x and y (step).
/// </summary>
[Config(typeof(ThroughputConfig<Conv1dBenchmarks>))]
public class Conv1dBenchmarks : OpBenchmark, IThroughput
{
    private const int Width = 4;
    private Tensor _x = null!, _dy = null!, _weight = null!, _bias = null!, _state = null!, _xt = null!;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 16, 8) },
        new[] { new SequenceShape(1, 4096, 1792), new SequenceShape(8, 1024, 1792) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Batch, Shape.Length, Shape.Channels);
        _dy = Normal(Shape.Batch, Shape.Length, Shape.Channels);
        _weight = Normal(Shape.Channels, Width);
        _bias = Normal(Shape.Channels);
        _state = Normal(Shape.Batch, Shape.Channels, Width);
        _xt = Normal(Shape.Batch, Shape.Channels);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        Conv1d.Forward(_x, _weight, _bias, silu: true);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Conv1d.Backward(_dy, _x, _weight, _bias, silu: true);
    }

    [Benchmark]
    public void Step()
    {
        using var scope = TensorScope.Begin();
        Conv1d.Step(_state, _xt, _weight, _bias, silu: true);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<SequenceShape>(c, nameof(Shape));
        return Method(c) switch
        {
            nameof(Forward) => Floats(2 * s.Elements),
            nameof(Backward) => Floats(3 * s.Elements),
            _ => Floats((2.0 * Width + 2) * s.Batch * s.Channels),
        };
    }
}
