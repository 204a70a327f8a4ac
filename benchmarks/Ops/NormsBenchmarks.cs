using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// LayerNorm (weight and bias), RMSNorm and gated RMSNorm (Mamba-2's y = RMSNorm(x ⊙ SiLU(z)), one group) over the last
/// dimension of x [rows, width]: forward, and backward with every gradient. GB/s counts the row tensors moved once
/// (forward: x (and z) read, y written; backward: dy, x (and z) read, dx (and dz) written).
/// </summary>
[Config(typeof(ThroughputConfig<NormsBenchmarks>))]
public class NormsBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _x = null!, _z = null!, _weight = null!, _bias = null!, _dy = null!;
    private NormOutput _saved = null!;

    public static IEnumerable<RowsShape> Cases => Pick(new[] { new RowsShape(6, 16) }, new[] { new RowsShape(8192, 768), new RowsShape(4096, 1536) });

    [ParamsSource(nameof(Cases))]
    public RowsShape Shape { get; set; } = null!;

    [Params("layer", "rms", "gated")]
    public string Norm { get; set; } = "layer";

    [GlobalSetup]
    public void Setup()
    {
        _x = Normal(Shape.Rows, Shape.Width);
        _z = Normal(Shape.Rows, Shape.Width);
        _dy = Normal(Shape.Rows, Shape.Width);
        _weight = Normal(Shape.Width);
        _bias = Normal(Shape.Width);
        _saved = Run();
        Keep(_saved.Output);
        Keep(_saved.Rstd);
        if (_saved.Mean is { } mean) Keep(mean);
    }

    private NormOutput Run() => Norm switch
    {
        "layer" => Norms.LayerNorm(_x, _weight, _bias),
        "rms" => Norms.RmsNorm(_x, _weight),
        _ => Norms.GatedRmsNorm(_x, _z, _weight, Shape.Width),
    };

    [Benchmark]
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        Run();
    }

    [Benchmark]
    public void Backward()
    {
        using var scope = TensorScope.Begin();
        _ = Norm switch
        {
            "layer" => Norms.LayerNormBackward(_dy, _x, _weight, _saved.Mean!, _saved.Rstd),
            "rms" => Norms.RmsNormBackward(_dy, _x, _weight, _saved.Rstd),
            _ => Norms.GatedRmsNormBackward(_dy, _x, _z, _weight, _saved.Rstd, Shape.Width),
        };
    }

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c)
    {
        bool gated = Param<string>(c, nameof(Norm)) == "gated";
        double streams = Method(c) == nameof(Forward) ? (gated ? 3 : 2) : (gated ? 5 : 3);
        return Floats(streams * Param<RowsShape>(c, nameof(Shape)).Elements);
    }
}
