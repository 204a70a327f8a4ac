using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Benchmarks;

/// <summary>
/// The S4D layer (s4d.py defaults: S4D-Lin, ZOH, channel-first [B, H, L]) at B = 8, H = 256, N = 64 against the sequence
/// length: forward (no grad) and forward+backward (seed gradient dy, i.e. loss = Σ y·dy; gradients of x and every
/// parameter); reports K tokens/s (B·L per call). The side-by-side PyTorch comparison is the "s4d" compare case.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(TokensConfig))]
public class S4DBenchmarks
{
    private S4D _layer = null!;
    private Variable _x = null!;
    private Tensor _dy = null!;

    internal static int Batch => Program.Smoke ? 2 : 8;
    internal static int Width => Program.Smoke ? 4 : 256;
    internal static int State => Program.Smoke ? 4 : 64;
    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 16 } : new[] { 1024, 4096, 16384 };

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _layer = new S4D(new S4DConfig { DModel = Width, DState = State }, new Rng(1));
        var rng = new Rng(2);
        _x = new Variable(rng.Normal(new[] { Batch, Width, Length }).DetachFromScope(), requiresGrad: true);
        _dy = rng.Normal(new[] { Batch, Width, Length }).DetachFromScope();
    }

    [Benchmark]
    public float Forward()
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        return _layer.Forward(_x).Data.Span[0];
    }

    [Benchmark]
    public float ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _layer.ZeroGrad();
        _x.ZeroGrad();
        var y = _layer.Forward(_x);
        y.Backward(_dy);
        return y.Data.Span[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layer.Dispose();
        _x.Data.Dispose();
        _dy.Dispose();
    }

    private sealed class TokensConfig : ManualConfig
    {
        public TokensConfig() => AddColumn(new ThroughputColumn("Ktok/s", c => (double)Batch * ThroughputColumn.Param<int>(c, nameof(Length)) * 1e6));
    }
}
