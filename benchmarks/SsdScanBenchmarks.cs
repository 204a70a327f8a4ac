using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace Ssm.Benchmarks;

/// <summary>
/// The SSD scan alone: chunked forward, backward, and the fused single-token step; the GB/s column is each method's
/// least traffic (<see cref="SsdScanShape.Bytes"/>, <see cref="SsdScanShape.BackwardBytes"/>,
/// <see cref="SsdScanShape.StepBytes"/>) over the mean time.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class SsdScanBenchmarks
{
    private SsdScanWorkload _w = null!;

    public static IEnumerable<SsdScanShape> Shapes => Program.Smoke
        ? new[] { new SsdScanShape(2, 32, 4, 16, 8, 16) }
        : new[] { new SsdScanShape(1, 4096, 24, 64, 128, 64), new SsdScanShape(1, 4096, 8, 64, 64, 64) };

    [ParamsSource(nameof(Shapes))]
    public SsdScanShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup() => _w = new SsdScanWorkload(Shape);

    [Benchmark]
    public void Forward() => _w.Forward();

    [Benchmark]
    public void Backward() => _w.Backward();

    [Benchmark]
    public void Step() => _w.Step();

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("GB/s", c =>
        {
            var s = ThroughputColumn.Param<SsdScanShape>(c, nameof(Shape));
            return c.Descriptor.WorkloadMethod.Name switch
            {
                nameof(Forward) => s.Bytes,
                nameof(Backward) => s.BackwardBytes,
                _ => s.StepBytes,
            };
        }));
    }
}
