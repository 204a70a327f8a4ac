using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The NeuralMemory kernel family alone (<see cref="NeuralMemoryOps"/>) at one memory layer of the d_model 256, 4-head,
/// expansion-4 configuration (R = 4 rows of [256, 64] weights): the fused chunk-end update M′, S′ and its backward, and
/// the activation curvature over one 64-token chunk of hidden pre-activations [4, 64, 256]. The GB/s column is each
/// method's least traffic (every input read once, every output written once) over the mean time.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class NeuralMemoryOpsBenchmarks
{
    private Tensor _m = null!, _s = null!, _delta = null!, _keep = null!, _carry = null!, _momentumKeep = null!, _gM = null!, _gS = null!;
    private Tensor _z = null!, _dy = null!, _g = null!;

    internal static int Rows => Program.Smoke ? 2 : 4;
    internal static int[] Weight => Program.Smoke ? new[] { 8, 4 } : new[] { 256, 64 };
    internal static int[] Hidden => Program.Smoke ? new[] { 4, 8 } : new[] { 64, 256 };

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(4);
        int[] w = [Rows, .. Weight], d = [Rows, 2, .. Weight], h = [Rows, .. Hidden];
        _m = rng.Normal(w);
        _s = rng.Normal(w);
        _delta = rng.Normal(d);
        _gM = rng.Normal(w);
        _gS = rng.Normal(w);
        _keep = rng.Uniform(new[] { Rows }, 0.9, 1);
        _carry = rng.Uniform(new[] { Rows }, 0, 1);
        _momentumKeep = rng.Uniform(new[] { Rows }, 0, 0.5);
        _z = rng.Normal(h);
        _dy = rng.Normal(h);
        _g = rng.Normal(h);
    }

    [Benchmark]
    public void ChunkUpdate()
    {
        var (m, s) = NeuralMemoryOps.ChunkUpdate(_m, _s, _delta, _keep, _carry, _momentumKeep);
        m.Dispose();
        s.Dispose();
    }

    [Benchmark]
    public void ChunkUpdateBackward()
    {
        var r = NeuralMemoryOps.ChunkUpdateBackward(_m, _s, _delta, _keep, _carry, _momentumKeep, _gM, _gS);
        foreach (var t in new[] { r.Dm, r.Ds, r.Ddelta, r.Dkeep, r.Dcarry, r.DmomentumKeep }) t.Dispose();
    }

    [Benchmark]
    public void ActivationCurvature() => NeuralMemoryOps.ActivationCurvature(UnaryOp.Silu, _z, _dy, _g).Dispose();

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _m, _s, _delta, _keep, _carry, _momentumKeep, _gM, _gS, _z, _dy, _g }) t.Dispose();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("GB/s", c =>
        {
            double weight = (double)Rows * Weight[0] * Weight[1] * sizeof(float), hidden = (double)Rows * Hidden[0] * Hidden[1] * sizeof(float);
            return c.Descriptor.WorkloadMethod.Name switch
            {
                nameof(ChunkUpdate) => 6 * weight,          // read M, S, Δ (2×); write M′, S′
                nameof(ChunkUpdateBackward) => 10 * weight, // read M, S, Δ (2×), gM, gS; write dM, dS, dΔ (2×)
                _ => 4 * hidden,                            // read z, dy, g; write dz
            };
        }));
    }
}

/// <summary>
/// The Titans neural memory layer and its memory scan alone (<see cref="NeuralMemoryWorkload"/>; d_model 256, 4 heads
/// of 64, expansion 4, L 1024) forward (no grad) and forward+backward, against the chunk size (gradients at chunk-start
/// weights) and the memory depth; reports K tokens/s. The compare case titans_memory measures the same at L 4096.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class NeuralMemoryBenchmarks
{
    private NeuralMemoryWorkload _w = null!;

    public static IEnumerable<int> Chunks => Program.Smoke ? new[] { 2 } : new[] { 16, 64, 256 };
    public static IEnumerable<int> Depths => Program.Smoke ? new[] { 2 } : new[] { 1, 2, 3 };
    internal static NeuralMemoryShape ShapeOf(int depth, int chunk) => Program.Smoke
        ? new NeuralMemoryShape(1, 8, 16, 2, depth, chunk)
        : new NeuralMemoryShape(1, 1024, 256, 4, depth, chunk);

    [ParamsSource(nameof(Chunks))]
    public int ChunkSize { get; set; }

    [ParamsSource(nameof(Depths))]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup() => _w = new NeuralMemoryWorkload(ShapeOf(Depth, ChunkSize));

    [Benchmark]
    public void LayerForward() => _w.LayerForward();

    [Benchmark]
    public void LayerForwardBackward() => _w.LayerForwardBackward();

    [Benchmark]
    public void ScanForward() => _w.ScanForward();

    [Benchmark]
    public void ScanForwardBackward() => _w.ScanForwardBackward();

    [GlobalCleanup]
    public void Cleanup() => _w.Dispose();

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", _ => ShapeOf(1, 1).Tokens * 1e6));
    }
}

/// <summary>
/// Titans language models (<see cref="LanguageModelWorkload"/>; MAC, MAG, MAL; d_model 256, 2 layers, 4 heads, window
/// 128, segment 64, memory chunk 16, vocabulary 256): forward + loss, and one training step's forward + cross-entropy +
/// backward, against the sequence length; reports K tokens/s. The compare case titans_models sweeps L up to 16K.
/// </summary>
[Config(typeof(ThroughputConfig<TitansModelBenchmarks>))]
public class TitansModelBenchmarks : LanguageModelBenchmark
{
    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 8 } : new[] { 1024, 2048 };

    [Params(TitansVariant.Mac, TitansVariant.Mag, TitansVariant.Mal)]
    public TitansVariant Variant { get; set; }

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    protected override LanguageModelWorkload CreateWorkload() => (Program.Smoke
        ? new TitansModelShape(Variant, 1, Length, 16, 1, 2, Window: 4, Segment: 4, Chunk: 2, Vocab: 11)
        : new TitansModelShape(Variant, 1, Length, 256, 2, 4, Window: 128, Segment: 64, Chunk: 16, Vocab: 256)).Workload();
}
