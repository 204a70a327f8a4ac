using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// The fused in-place optimizer updates over n parameters: AdamW (param, grad, m, v read; param, m, v written), SGD with
/// momentum (param, grad, buffer read; param, buffer written) and the sum of squares of gradient clipping (grad read);
/// GB/s counts those streams.
/// </summary>
[Config(typeof(ThroughputConfig<OptimBenchmarks>))]
public class OptimBenchmarks : OpBenchmark, IThroughput
{
    private Tensor _param = null!, _grad = null!, _m = null!, _v = null!, _total = null!;

    public static IEnumerable<int> Lengths => Pick(new[] { 4099 }, new[] { 1 << 20, 1 << 24 });

    [ParamsSource(nameof(Lengths))]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _param = Normal(Length);
        _grad = Normal(Length);
        _m = Normal(Length);
        _v = Uniform(0, 1, Length);
        _total = Keep(Tensor.Zeros(new[] { 1 }));
    }

    [Benchmark]
    public void AdamW() => OptimizerOps.AdamW(_param, _grad, _m, _v, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 10);

    [Benchmark]
    public void SgdMomentum() => OptimizerOps.Sgd(_param, _grad, _m, lr: 1e-2, momentum: 0.9);

    [Benchmark]
    public void SumOfSquares() => OptimizerOps.AddSumOfSquares(_grad, _total);

    public static string Unit => "GB/s";
    public static double Work(BenchmarkCase c) => Floats(Param<int>(c, nameof(Length)) * Method(c) switch
    {
        nameof(AdamW) => 7.0,
        nameof(SgdMomentum) => 5.0,
        _ => 1.0,
    });
}
