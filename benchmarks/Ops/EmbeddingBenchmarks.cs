using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Embedding lookup of int32 ids [tokens] in weight [V, D] and its backward (the scatter-add into a fresh dW [V, D]).
/// GB/s counts the rows read and written (forward) and dy read plus dW written (backward).
/// </summary>
[Config(typeof(ThroughputConfig<EmbeddingBenchmarks>))]
public class EmbeddingBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _ids = null!, _weight = null!, _dy = null!;

    public static IEnumerable<VocabShape> Cases => Pick(new[] { new VocabShape(16, 32, 8) },
        new[] { new VocabShape(8192, 50280, 768), new VocabShape(8192, 256, 768) });

    [ParamsSource(nameof(Cases))]
    public VocabShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ids = Ids(Shape.Vocab, Shape.Tokens);
        _weight = Normal(Shape.Vocab, Shape.Dim);
        _dy = Normal(Shape.Tokens, Shape.Dim);
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        Ssm.Kernels.Embedding.Forward(_ids, _weight);
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        Ssm.Kernels.Embedding.Backward(_ids, _dy, Shape.Vocab);
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c)
    {
        var s = Param<VocabShape>(c, nameof(Shape));
        return Method(c) == nameof(Forward) ? Floats(2.0 * s.Tokens * s.Dim) : Floats((double)(s.Tokens + s.Vocab) * s.Dim);
    }
}
