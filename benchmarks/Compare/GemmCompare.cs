using System.Text.Json.Nodes;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>GEMM cases: C = A·op(B) into a preallocated C (the peer: <c>torch.matmul(a, b, out=c)</c>, peer/gemm.py).</summary>
internal static class GemmCompare
{
    public static IEnumerable<CompareCase> Cases(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            int m = (int)s["m"]!, n = (int)s["n"]!, k = (int)s["k"]!;
            bool transB = (bool)s["trans_b"]!;
            var rng = new Rng(1);
            var a = rng.Normal(new[] { m, k });
            var b = transB ? rng.Normal(new[] { n, k }) : rng.Normal(new[] { k, n });
            var c = Tensor.Empty(new[] { m, n });
            yield return new CompareCase("gemm", transB ? "matmul_bt" : "matmul", $"{m}x{n}x{k}", 2.0 * m * n * k, "GFLOP/s",
                () => MatMul.Compute(a, b, transB: transB, output: c)) { Resources = new IDisposable[] { a, b, c } };
        }
    }
}
