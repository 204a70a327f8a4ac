using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Ssm.Benchmarks.Compare;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Attention forward and forward + backward (B = 1, H = 8, D = 64) at L = 512 … 16K under the causal mask and a sliding
/// window of 256 keys; reports useful GFLOP/s (visible pairs, as <see cref="AttentionCompare"/>). Time grows as L² for
/// causal and as L for the window; memory is O(L) for both (no L×L matrix). The long cases take seconds per call:
/// filter, e.g. <c>--filter *Attention* --job short</c>, or use the compare mode (benchmarks/compare.sh attention).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class AttentionBenchmarks
{
    private const int Heads = 8;
    private Tensor _q = null!, _k = null!, _v = null!, _dO = null!;

    private static int HeadDim => Program.Smoke ? 16 : 64;
    private static int WindowSize => Program.Smoke ? 16 : 256;

    public static IEnumerable<int> Lengths => Program.Smoke ? new[] { 64 } : new[] { 512, 1024, 2048, 4096, 8192, 16384 };

    [ParamsSource(nameof(Lengths))]
    public int L { get; set; }

    [Params("causal", "sliding")]
    public string Mask { get; set; } = "causal";

    private AttentionMask MaskPolicy => Mask == "causal" ? AttentionMask.Causal : AttentionMask.SlidingWindow(WindowSize);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Rng(1);
        _q = rng.Normal(new[] { 1, Heads, L, HeadDim });
        _k = rng.Normal(new[] { 1, Heads, L, HeadDim });
        _v = rng.Normal(new[] { 1, Heads, L, HeadDim });
        _dO = rng.Normal(new[] { 1, Heads, L, HeadDim });
    }

    [Benchmark]
    public void Forward()
    {
        using var r = Attention.Forward(_q, _k, _v, MaskPolicy, Attention.DefaultScale(HeadDim));
    }

    [Benchmark]
    public void ForwardBackward()
    {
        var mask = MaskPolicy;
        float scale = Attention.DefaultScale(HeadDim);
        using var r = Attention.Forward(_q, _k, _v, mask, scale);
        var g = Attention.Backward(_q, _k, _v, r.Output, r.Lse, _dO, mask, scale);
        g.Dq!.Dispose();
        g.Dk!.Dispose();
        g.Dv!.Dispose();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _q.Dispose();
        _k.Dispose();
        _v.Dispose();
        _dO.Dispose();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(new ThroughputColumn("GFLOP/s", c =>
        {
            int l = ThroughputColumn.Param<int>(c, nameof(L));
            bool causal = ThroughputColumn.Param<string>(c, nameof(Mask)) == "causal";
            double forward = 4.0 * Heads * HeadDim * AttentionCompare.VisiblePairs(l, causal ? l : WindowSize);
            return c.Descriptor.WorkloadMethod.Name == nameof(ForwardBackward) ? 3.5 * forward : forward;
        }));
    }
}
