using System.Text.Json.Nodes;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Mamba-2 cases (peers: peer/mamba2.py, peer/mamba2_step.py, peer/ssd_scan.py over peer/_mamba2_torch.py):
/// "mamba2" — the layer forward and forward+backward (<see cref="Mamba2Workload"/>), tokens/s;
/// "mamba2_step" — recurrent decoding (<see cref="Mamba2StepWorkload"/>), tokens/s;
/// "ssd_scan" — the SSD scan forward alone (<see cref="SsdScanWorkload"/>), GB/s of the least traffic plus its GFLOP/s.
/// </summary>
internal static class Mamba2Compare
{
    private const double TokensUnit = 1e9; // CompareCase.Work is per 1e9: tokens·1e9 gives tokens/s

    public static IEnumerable<CompareCase> Layer(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var shape = new Mamba2Shape((int)s["batch"]!, (int)s["length"]!, (int)s["d_model"]!, (int)s["d_state"]!,
                (int)s["headdim"]!, (int)s["chunk"]!);
            double work = shape.Tokens * TokensUnit;
            var forward = new Mamba2Workload(shape);
            yield return new CompareCase("mamba2", "forward", shape.ToString(), work, "tok/s", forward.Forward) { Resources = new IDisposable[] { forward } };
            var training = new Mamba2Workload(shape);
            yield return new CompareCase("mamba2", "forward_backward", shape.ToString(), work, "tok/s", training.ForwardBackward)
                { Resources = new IDisposable[] { training } };
        }
    }

    public static IEnumerable<CompareCase> Step(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var shape = new Mamba2StepShape((int)s["batch"]!, (int)s["d_model"]!, (int)s["d_state"]!, (int)s["headdim"]!, (int)s["steps"]!);
            var w = new Mamba2StepWorkload(shape);
            yield return new CompareCase("mamba2_step", "step", shape.ToString(), (double)shape.Batch * shape.Steps * TokensUnit, "tok/s", w.Decode)
                { Resources = new IDisposable[] { w } };
        }
    }

    public static IEnumerable<CompareCase> Scan(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            var shape = new SsdScanShape((int)s["batch"]!, (int)s["length"]!, (int)s["heads"]!, (int)s["headdim"]!, (int)s["d_state"]!, (int)s["chunk"]!);
            var w = new SsdScanWorkload(shape);
            yield return new CompareCase("ssd_scan", "forward", shape.ToString(), shape.Bytes, "GB/s", w.Forward)
                { Resources = new IDisposable[] { w }, Flops = shape.Flops };
        }
    }
}
