using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Fused softmax cross-entropy (mean reduction) of logits [tokens, V] with int32 targets: forward (loss and per-row
/// log-sum-exp) and backward (dlogits). GB/s counts the logits read (forward), read and dlogits written (backward).
/// </summary>
[Config(typeof(ThroughputConfig<CrossEntropyBenchmarks>))]
public class CrossEntropyBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _logits = null!, _targets = null!, _dLoss = null!;
    private CrossEntropyResult _saved = null!;

    public static IEnumerable<VocabShape> Cases => Pick(new[] { new VocabShape(6, 11, 0) },
        new[] { new VocabShape(1024, 32000, 0), new VocabShape(8192, 256, 0) });

    [ParamsSource(nameof(Cases))]
    public VocabShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _logits = Normal(Shape.Tokens, Shape.Vocab);
        _targets = Ids(Shape.Vocab, Shape.Tokens);
        _saved = CrossEntropy.Forward(_logits, _targets);
        Keep(_saved.Loss);
        Keep(_saved.LogSumExp);
        Keep(_saved.ValidCount);
        _dLoss = Keep(Tensor.Ones(_saved.Loss.Shape));
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        CrossEntropy.Forward(_logits, _targets);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        CrossEntropy.Backward(_logits, _targets, _saved, _dLoss);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<VocabShape>(c, nameof(Shape));
        return Floats((Method(c) == nameof(Forward) ? 1.0 : 2.0) * s.Tokens * s.Vocab);
    }
}
