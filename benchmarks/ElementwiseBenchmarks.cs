using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>Elementwise c = a + b (binary, 3 streams) and SiLU (unary, 2 streams) into preallocated outputs; reports GB/s.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class ElementwiseBenchmarks
{
    private Tensor _a = null!, _b = null!, _c = null!;

    public static IEnumerable<int> Sizes => Program.Smoke ? new[] { 4096 } : new[] { 1 << 20, 1 << 24 };

    [ParamsSource(nameof(Sizes))]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(2);
        _a = rng.Normal(new[] { Length });
        _b = rng.Normal(new[] { Length });
        _c = Tensor.Empty(new[] { Length });
    }

    [Benchmark]
    public Tensor Add() => Elementwise.Binary(BinaryOp.Add, _a, _b, _c);

    [Benchmark]
    public Tensor Silu() => Elementwise.Unary(UnaryOp.Silu, _a, output: _c);

    [GlobalCleanup]
    public void Cleanup()
    {
        _a.Dispose();
        _b.Dispose();
        _c.Dispose();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("GB/s",
            c => (c.Descriptor.WorkloadMethod.Name == nameof(Add) ? 3.0 : 2.0) * sizeof(float) * ThroughputColumn.Param<int>(c, nameof(Length))));
    }
}
