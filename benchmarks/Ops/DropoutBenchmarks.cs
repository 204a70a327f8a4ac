using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>Counter-based dropout (p = 0.1) of x [n] into a preallocated output; GB/s counts x read and y written.</summary>
[Config(typeof(ThroughputConfig<DropoutBenchmarks>))]
public class DropoutBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _y = null!;

    public static IEnumerable<int> Lengths => Pick(new[] { 4099 }, new[] { 1 << 20, 1 << 24 });

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Length);
        _y = Normal(Length);
    }

    [Benchmark]
    public Tensor Apply() => DropoutOps.Apply(_x, 0.1f, seed: 7, output: _y);

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats(2.0 * Param<int>(c, nameof(Length)));
}
