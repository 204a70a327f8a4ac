using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The vector-quantization kernels behind LongVQ's quantizer (<see cref="VectorQuantize"/>): the nearest-codeword search
/// of every key against a per-head codebook, the per-block, per-code counts and value sums (the codebook attention's
/// cache aggregation) and the in-place EMA codebook update; reports K tokens/s (positions per call / mean time; the EMA
/// update is per codebook, so its column reads as if it processed the sequence).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class VectorQuantizerBenchmarks
{
    private Tensor _keys = null!, _codebook = null!, _values = null!, _codes = null!;
    private Tensor _emaCounts = null!, _emaSums = null!, _batchCounts = null!, _batchSums = null!;

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
        _keys = rng.Normal(new[] { s.Batch, s.Heads, s.Length, s.Dim }).DetachFromScope();
        _values = rng.Normal(new[] { s.Batch, s.Heads, s.Length, s.Dim }).DetachFromScope();
        _codebook = rng.Normal(new[] { s.Heads, s.Codes, s.Dim }).DetachFromScope();
        var (codes, quantized) = VectorQuantize.Nearest(_keys, _codebook);
        _codes = codes.DetachFromScope();
        quantized.Dispose();
        _emaCounts = Tensor.Zeros(new[] { s.Heads, s.Codes }, DType.Float32, Device.Cpu).DetachFromScope();
        _emaSums = Tensor.Zeros(new[] { s.Heads, s.Codes, s.Dim }, DType.Float32, Device.Cpu).DetachFromScope();
        _batchCounts = rng.Normal(new[] { s.Heads, s.Codes }).DetachFromScope();
        _batchSums = rng.Normal(new[] { s.Heads, s.Codes, s.Dim }).DetachFromScope();
    }

    [Benchmark]
    public void Nearest()
    {
        var (codes, quantized) = VectorQuantize.Nearest(_keys, _codebook);
        codes.Dispose();
        quantized.Dispose();
    }

    [Benchmark]
    public void AggregateByCode()
    {
        var s = Shape;
        var (counts, sums) = VectorQuantize.AggregateByCode(_codes.Reshape(s.Batch * s.Heads, s.Length),
            _values.Reshape(s.Batch * s.Heads, s.Length, s.Dim), s.Codes, s.Block);
        counts.Dispose();
        sums.Dispose();
    }

    [Benchmark]
    public void EmaUpdate() => VectorQuantize.EmaUpdate(_emaCounts, _emaSums, _batchCounts, _batchSums, _codebook);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _keys, _codebook, _values, _codes, _emaCounts, _emaSums, _batchCounts, _batchSums }) t.Dispose();
    }

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", c => ThroughputColumn.Param<CodebookShape>(c, nameof(Shape)).Tokens * 1e6));
    }
}
