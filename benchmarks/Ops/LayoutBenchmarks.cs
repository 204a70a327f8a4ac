using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Strided copies of activations x [batch, length, channels]: transpose to channel-first [batch, channels, length]
/// (S4's layout change), permute [B, L, H, 64] → [B, H, L, 64] (heads for attention), narrow to the first half of the
/// channels, concatenate two halves and flip along the length (bidirectional S4). GB/s counts each output read and
/// written once.
/// </summary>
[Config(typeof(ThroughputConfig<LayoutBenchmarks>))]
public class LayoutBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _heads = null!, _half = null!;

    private static int HeadDim => Program.Smoke ? 4 : 64;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 8, 16) },
        new[] { new SequenceShape(8, 1024, 768), new SequenceShape(1, 16384, 256) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Batch, Shape.Length, Shape.Channels);
        _heads = Keep(_x.Reshape(Shape.Batch, Shape.Length, Shape.Channels / HeadDim, HeadDim));
        _half = Keep(Layout.Narrow(_x, 2, 0, Shape.Channels / 2));
    }

    [Benchmark]
    public void Transpose()
    {
        using var scope = TensorScope.Begin();
        Layout.Transpose(_x, 1, 2);
    }

    [Benchmark]
    public void PermuteHeads()
    {
        using var scope = TensorScope.Begin();
        Layout.Permute(_heads, 0, 2, 1, 3);
    }

    [Benchmark]
    public void Narrow()
    {
        using var scope = TensorScope.Begin();
        Layout.Narrow(_x, 2, 0, Shape.Channels / 2);
    }

    [Benchmark]
    public void Concat()
    {
        using var scope = TensorScope.Begin();
        Layout.Concat(new[] { _half, _half }, 2);
    }

    [Benchmark]
    public void Flip()
    {
        using var scope = TensorScope.Begin();
        Layout.Flip(_x, 1);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats((Method(c) == nameof(Narrow) ? 1 : 2) * Param<SequenceShape>(c, nameof(Shape)).Elements);
}
