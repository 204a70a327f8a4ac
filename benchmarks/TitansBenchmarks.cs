using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The Titans neural memory layer (d_model 64, 4 heads of 16, expansion 4) over one sequence: forward (no grad) and
/// forward+backward, against the chunk size (gradients at chunk-start weights) and the memory depth; reports K tokens/s.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class NeuralMemoryBenchmarks
{
    private NeuralMemory _memory = null!;
    private Variable _x = null!;

    public static IEnumerable<int> Chunks => Program.Smoke ? new[] { 2 } : new[] { 4, 16, 64 };
    public static IEnumerable<int> Depths => Program.Smoke ? new[] { 2 } : new[] { 1, 2, 3 };
    internal static int Length => Program.Smoke ? 8 : 2048;

    [ParamsSource(nameof(Chunks))]
    public int ChunkSize { get; set; }

    [ParamsSource(nameof(Depths))]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _memory = new NeuralMemory(new NeuralMemoryConfig { DModel = 64, Heads = 4, HeadDim = 16, Depth = Depth, Expansion = 4, ChunkSize = ChunkSize }, new Rng(1));
        _x = new Variable(new Rng(2).Normal(new[] { 1, Length, 64 }).DetachFromScope(), requiresGrad: true);
    }

    [Benchmark]
    public float Forward()
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        return _memory.Forward(_x).Data.ToArray()[0];
    }

    [Benchmark]
    public float ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _memory.ZeroGrad();
        _x.ZeroGrad();
        var loss = F.Mean(F.Square(_memory.Forward(_x)));
        loss.Backward();
        return loss.Item();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _memory.Dispose();
        _x.Data.Dispose();
    }

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", _ => Length * 1e6));
    }
}

/// <summary>
/// Titans language models (MAC, MAG, MAL; d_model 64, 2 layers, 4 heads, window 128, segment 64, memory chunk 16,
/// vocabulary 256): one training step's forward + cross-entropy + backward against the sequence length; reports K tokens/s.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class TitansModelBenchmarks
{
    private TitansLM _model = null!;
    private Tensor _inputs = null!, _targets = null!;

    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 8 } : new[] { 512, 2048, 8192 };

    [Params(TitansVariant.Mac, TitansVariant.Mag, TitansVariant.Mal)]
    public TitansVariant Variant { get; set; }

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var config = TitansConfig.Create(Variant, 64, 2, 256) with
        {
            Window = Program.Smoke ? 4 : 128, SegmentLength = Program.Smoke ? 4 : 64,
            Memory = new NeuralMemoryConfig { DModel = 64, Heads = 4, HeadDim = 16, ChunkSize = Program.Smoke ? 2 : 16 },
        };
        _model = new TitansLM(config, new Rng(1));
        var rng = new Rng(2);
        var ids = Enumerable.Range(0, Length + 1).Select(_ => rng.Next(256)).ToArray();
        _inputs = Tensor.From(ids[..Length], new[] { 1, Length }).DetachFromScope();
        _targets = Tensor.From(ids[1..], new[] { Length }).DetachFromScope();
    }

    [Benchmark]
    public float ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _model.ZeroGrad();
        var loss = F.CrossEntropy(F.Reshape(_model.Forward(_inputs), Length, _model.VocabSize), _targets);
        loss.Backward();
        return loss.Item();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _model.Dispose();
        _inputs.Dispose();
        _targets.Dispose();
    }

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", c => ThroughputColumn.Param<int>(c, nameof(Length)) * 1e6));
    }
}
