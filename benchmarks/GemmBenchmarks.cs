using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>Square GEMM C = A·op(B) (op(B) = Bᵀ is the linear-layer layout) into a preallocated C; reports GFLOP/s.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class GemmBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!;

    public static IEnumerable<int> Sizes => Program.Smoke ? new[] { 16, 67 } : new[] { 256, 512, 1024, 2048 };

    [ParamsSource(nameof(Sizes))]
    public int N { get; set; }

    [Params(false, true)]
    public bool TransB { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _a = rng.Normal(new[] { N, N });
        _b = rng.Normal(new[] { N, N });
        _c = Tensor.Empty(new[] { N, N });
    }

    [Benchmark]
    public Tensor MatMul() => Kernels.MatMul.Compute(_a, _b, transB: TransB, output: _c);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("GFLOP/s", c => 2.0 * Math.Pow(ThroughputColumn.Param<int>(c, nameof(N)), 3)));
    }
}
