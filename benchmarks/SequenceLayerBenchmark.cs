using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Shared body of the channel-first sequence-layer benchmarks (x [B, H, L], B = 8, H = 256, N = 64 against L):
/// forward (no grad) and forward+backward (seed gradient dy, i.e. loss = Σ y·dy; gradients of x and every parameter);
/// reports K tokens/s (B·L per call). Subclasses build the layer.
/// </summary>
[MemoryDiagnoser]
public abstract class SequenceLayerBenchmark : IThroughput
{
    private Module _module = null!;
    private IForward _layer = null!;
    private Variable _x = null!;
    private Tensor _dy = null!;

    internal static int Batch => Program.Smoke ? 2 : 8;
    internal static int Width => Program.Smoke ? 4 : 256;
    internal static int State => Program.Smoke ? 4 : 64;
    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 16 } : new[] { 1024, 4096, 16384 };

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    /// <summary>The layer under test, with d_model <see cref="Width"/> and d_state <see cref="State"/>.</summary>
    protected abstract Module CreateLayer(Rng rng);

    [GlobalSetup]
    public void Setup()
    {
        _module = CreateLayer(new Rng(1));
        _layer = (IForward)_module;
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
        _module.ZeroGrad();
        _x.ZeroGrad();
        var y = _layer.Forward(_x);
        y.Backward(_dy);
        return y.Data.Span[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _module.Dispose();
        _x.Data.Dispose();
        _dy.Dispose();
    }

    public static string Unit => "Ktok/s";
    public static double Work(BenchmarkCase c) => (double)Batch * ThroughputColumn.Param<int>(c, nameof(Length)) * 1e6;
}
