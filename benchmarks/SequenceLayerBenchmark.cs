using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Shared body of the sequence-layer benchmarks (x [B, H, L] channel-first, or [B, L, H] with <see cref="BatchFirst"/>;
/// B = 8, H = 256, N = 64 against L): forward (no grad) and forward+backward (seed gradient dy, i.e. loss = Σ y·dy;
/// gradients of x and every parameter); reports K tokens/s (B·L per call). Subclasses build the layer.
/// </summary>
[MemoryDiagnoser]
public abstract class SequenceLayerBenchmark : IThroughput
{
    private Module _module = null!;
    private Func<Variable, Variable> _forward = null!;
    private Variable _x = null!;
    private Tensor _dy = null!;

    internal static int Batch => Program.Smoke ? 2 : 8;
    internal static int Width => Program.Smoke ? 4 : 256;
    internal static int State => Program.Smoke ? 4 : 64;
    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 16 } : new[] { 1024, 4096, 16384 };

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    /// <summary>The layer under test, with d_model <see cref="Width"/> (and d_state <see cref="State"/>), and its forward.</summary>
    protected abstract (Module Layer, Func<Variable, Variable> Forward) CreateLayer(Rng rng);

    /// <summary>True for layers over x [batch, length, d_model]; false (default) for channel-first x [batch, d_model, length].</summary>
    protected virtual bool BatchFirst => false;

    /// <summary>A layer whose forward is its <see cref="IForward.Forward"/>.</summary>
    protected static (Module Layer, Func<Variable, Variable> Forward) Layer<T>(T layer) where T : Module, IForward => (layer, layer.Forward);

    [GlobalSetup]
    public void Setup()
    {
        (_module, _forward) = CreateLayer(new Rng(1));
        var rng = new Rng(2);
        int[] shape = BatchFirst ? new[] { Batch, Length, Width } : new[] { Batch, Width, Length };
        _x = new Variable(rng.Normal(shape).DetachFromScope(), requiresGrad: true);
        _dy = rng.Normal(shape).DetachFromScope();
    }

    [Benchmark]
    public float Forward()
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        return _forward(_x).Data.Span[0];
    }

    [Benchmark]
    public float ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _module.ZeroGrad();
        _x.ZeroGrad();
        var y = _forward(_x);
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
