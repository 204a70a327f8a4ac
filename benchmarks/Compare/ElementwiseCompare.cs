using System.Text.Json.Nodes;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Elementwise cases: c = a + b into a preallocated c (the peer: <c>torch.add(a, b, out=c)</c>, peer/elementwise.py).
/// Bytes counted as in STREAM: two reads and one write per element.
/// </summary>
internal static class ElementwiseCompare
{
    public static IEnumerable<CompareCase> Cases(JsonNode shapes, bool small)
    {
        foreach (var s in CompareHarness.ShapeList(shapes, small))
        {
            string op = (string)s["op"]!;
            int n = (int)s["n"]!;
            var rng = new Rng(2);
            var a = rng.Normal(new[] { n });
            var b = rng.Normal(new[] { n });
            var c = Tensor.Empty(new[] { n });
            var binary = op switch
            {
                "add" => BinaryOp.Add,
                "mul" => BinaryOp.Mul,
                _ => throw new ArgumentException($"elementwise: unknown op '{op}' in cases.json"),
            };
            yield return new CompareCase("elementwise", op, n.ToString(), 3.0 * sizeof(float) * n, "GB/s",
                () => Elementwise.Binary(binary, a, b, c)) { Resources = new IDisposable[] { a, b, c } };
        }
    }
}
