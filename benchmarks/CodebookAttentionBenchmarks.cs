using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// LongVQ's linear-time codebook attention (<see cref="CodebookAttention"/>, causal): forward and forward + backward
/// (gradients of q, k̂ and v) over keys quantized against a random per-head codebook, at several lengths, block lengths
/// and codebook sizes; reports K tokens/s. Time and memory grow linearly in L (the scaling sweep against full attention is
/// the compare mode's "longvq" case, benchmarks/RESULTS-longvq.md).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class CodebookAttentionBenchmarks
{
    private Tensor _q = null!, _kHat = null!, _v = null!, _dO = null!, _codes = null!, _codebook = null!;

    public static IEnumerable<CodebookShape> Shapes => Program.Smoke
        ? new[] { new CodebookShape(1, 2, 64, 16, 8, 16) }
        : new[] { new CodebookShape(1, 4, 4096, 64, 512, 512), new CodebookShape(1, 4, 16384, 64, 512, 512), new CodebookShape(1, 4, 16384, 64, 256, 256) };

    [ParamsSource(nameof(Shapes))]
    public CodebookShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        var s = Shape;
        var rng = new Rng(1);
        var shape = new[] { s.Batch, s.Heads, s.Length, s.Dim };
        _q = rng.Normal(shape).DetachFromScope();
        _v = rng.Normal(shape).DetachFromScope();
        _dO = rng.Normal(shape).DetachFromScope();
        _codebook = rng.Normal(new[] { s.Heads, s.Codes, s.Dim }).DetachFromScope();
        using var keys = rng.Normal(shape);
        var (codes, quantized) = VectorQuantize.Nearest(keys, _codebook);
        _codes = codes.DetachFromScope();
        _kHat = quantized.DetachFromScope();
    }

    [Benchmark]
    public void Forward()
    {
        var r = CodebookAttention.Forward(_q, _kHat, _v, _codes, _codebook, Shape.Block);
        r.Output.Dispose();
        r.LogSumExp.Dispose();
    }

    [Benchmark]
    public void ForwardBackward()
    {
        var r = CodebookAttention.Forward(_q, _kHat, _v, _codes, _codebook, Shape.Block);
        var g = CodebookAttention.Backward(_dO, _q, _kHat, _v, _codes, _codebook, r, Shape.Block);
        foreach (var t in new[] { r.Output, r.LogSumExp, g.DQ!, g.DK!, g.DV! }) t.Dispose();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _q, _kHat, _v, _dO, _codes, _codebook }) t.Dispose();
    }

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", c => ThroughputColumn.Param<CodebookShape>(c, nameof(Shape)).Tokens * 1e6));
    }
}
