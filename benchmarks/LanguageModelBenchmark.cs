using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace Ssm.Benchmarks;

/// <summary>
/// Shared body of the language-model benchmarks (<see cref="LanguageModelWorkload"/>): forward + loss (no grad) and one
/// training step (forward + cross-entropy + backward); reports K tokens/s. Subclasses declare the <c>Length</c>
/// parameter (batch 1) and build the workload.
/// </summary>
[MemoryDiagnoser]
public abstract class LanguageModelBenchmark : IThroughput
{
    private LanguageModelWorkload _w = null!;

    /// <summary>The model and token ids of the current case.</summary>
    protected abstract LanguageModelWorkload CreateWorkload();

    [GlobalSetup]
    public void Setup() => _w = CreateWorkload();

    [Benchmark]
    public float Forward()
    {
        _w.Forward();
        return _w.Loss;
    }

    [Benchmark]
    public float ForwardBackward()
    {
        _w.ForwardBackward();
        return _w.Loss;
    }

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    public static string Unit => "Ktok/s";
    public static double Work(BenchmarkCase c) => ThroughputColumn.Param<int>(c, "Length") * 1e6;
}
