using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Ssm.Benchmarks;

/// <summary>A Mamba-2 layer: forward (no grad) and forward+backward over u [batch, length, d_model]; reports tokens/s.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class Mamba2Benchmarks
{
    private Mamba2Workload _w = null!;

    public static IEnumerable<Mamba2Shape> Shapes => Program.Smoke
        ? new[] { new Mamba2Shape(1, 32, 32, 16, HeadDim: 16, Chunk: 16) }
        : new[] { new Mamba2Shape(1, 1024, 256, 64), new Mamba2Shape(1, 4096, 768, 128), new Mamba2Shape(8, 1024, 768, 128) };

    [ParamsSource(nameof(Shapes))]
    public Mamba2Shape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => _w = new Mamba2Workload(Shape);

    [Benchmark]
    public void Forward() => _w.Forward();

    [Benchmark]
    public void ForwardBackward() => _w.ForwardBackward();

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    private sealed class ThroughputConfig : ManualConfig
    {
        // ThroughputColumn divides by nanoseconds: tokens·1e9 per call gives tokens/s.
        public ThroughputConfig() => AddColumn(new ThroughputColumn("tok/s", c => ThroughputColumn.Param<Mamba2Shape>(c, nameof(Shape)).Tokens * 1e9));
    }
}

/// <summary>Recurrent decoding with <c>Mamba2.Step</c>: <see cref="Mamba2StepShape.Steps"/> tokens per call; reports tokens/s.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class Mamba2StepBenchmarks
{
    private Mamba2StepWorkload _w = null!;

    public static IEnumerable<Mamba2StepShape> Shapes => Program.Smoke
        ? new[] { new Mamba2StepShape(2, 32, 16, HeadDim: 16, Steps: 2) }
        : new[] { new Mamba2StepShape(1, 768, 128), new Mamba2StepShape(8, 768, 128) };

    [ParamsSource(nameof(Shapes))]
    public Mamba2StepShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => _w = new Mamba2StepWorkload(Shape);

    [Benchmark]
    public void Decode() => _w.Decode();

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("tok/s", c =>
        {
            var s = ThroughputColumn.Param<Mamba2StepShape>(c, nameof(Shape));
            return (double)s.Batch * s.Steps * 1e9;
        }));
    }
}
