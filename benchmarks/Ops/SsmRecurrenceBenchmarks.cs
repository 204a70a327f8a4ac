using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The recurrent (inference) forms of S4D and S4: the diagonal and the bilinear DPLR recurrence advancing a state
/// [batch, H, N2, 2] through u [batch, H, L] in place (single steps and a prefill chunk), N2 = 32 modes (d_state 64).
/// Reports M tokens/s (batch·L per call).
/// </summary>
[Config(typeof(ThroughputConfig<SsmRecurrenceBenchmarks>))]
public class SsmRecurrenceBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _logABar = null!, _bBar = null!, _c = null!, _dt = null!, _aReal = null!, _aImag = null!, _p = null!, _b = null!;
    private Tensor _u = null!, _state = null!;

    private static int Modes => Program.Smoke ? 4 : 32;

    public static IEnumerable<SequenceShape> Cases => Pick(new[] { new SequenceShape(2, 4, 4) },
        new[] { new SequenceShape(1, 1, 256), new SequenceShape(8, 1, 256), new SequenceShape(1, 1024, 256) });

    [ParamsSource(nameof(Cases))]
    public SequenceShape Shape { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        int h = Shape.Channels;
        _logABar = Uniform(-0.01, -1e-4, h, Modes, 2);
        _bBar = Normal(h, Modes, 2);
        _c = Normal(h, Modes, 2);
        _dt = Uniform(0.001, 0.1, h);
        _aReal = Uniform(-1, -0.1, h, Modes);
        _aImag = Uniform(0, 100, h, Modes);
        _p = Normal(h, Modes, 2);
        _b = Normal(h, Modes, 2);
        _u = Normal(Shape.Batch, h, Shape.Length);
        _state = Normal(Shape.Batch, h, Modes, 2);
    }

    [Benchmark]
    public void Diagonal()
    {
        using var scope = TensorScope.Begin();
        SsmRecurrence.Diagonal(_logABar, _bBar, _c, _u, _state);
    }

    [Benchmark]
    public void Dplr()
    {
        using var scope = TensorScope.Begin();
        SsmRecurrence.Dplr(_dt, _aReal, _aImag, _p, _b, _c, _u, _state);
    }

    public static string Unit => "Mtok/s";
    public static double Work(BenchmarkCase c) => Param<SequenceShape>(c, nameof(Shape)).Tokens * 1e3;
}
