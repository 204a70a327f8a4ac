using Ssm.Kernels;

namespace Ssm;

// Gradients of C = op(A)·op(B) (each product is itself a MatMul):
//   dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC; for a transposed operand the gradient is transposed back, e.g.
//   A stored K×M (op(A) = Aᵀ): dA = op(B)·dCᵀ. An operand shared across the batch gets the sum over the batch.
// Linear (PyTorch's F.linear): y = x·Wᵀ + b; dx = dy·W, dW = dyᵀ·x (rows of x and dy flattened), db = Σ dy over rows.

public static partial class F
{
    /// <summary>
    /// op(a)·op(b) over the last two dimensions (op = transpose when <paramref name="transA"/>/<paramref name="transB"/>),
    /// batched over leading dimensions; a rank-2 operand is shared across the other's batch (see
    /// <see cref="MatMul.Compute"/> for the accepted shapes).
    /// </summary>
    public static Variable MatMul(Variable a, Variable b, bool transA = false, bool transB = false)
    {
        Tensor ad = a.Data, bd = b.Data;
        var c = Kernels.MatMul.Compute(ad, bd, transA, transB);
        return Autograd.Record(c, "MatMul", new[] { a, b }, g => new Tensor?[]
        {
            a.RequiresGrad ? GradA(ad, bd, g, transA, transB) : null,
            b.RequiresGrad ? GradB(ad, bd, g, transA, transB) : null,
        });
    }

    /// <summary>
    /// Linear map y = x·weightᵀ + bias over the last dimension, like PyTorch's <c>F.linear</c>: x [.., in],
    /// weight [out, in], bias [out] (optional); y [.., out].
    /// </summary>
    public static Variable Linear(Variable x, Variable weight, Variable? bias = null)
    {
        const string op = "F.Linear";
        Guard.Rank(op, weight.Data, "weight", 2, "[out_features, in_features]");
        int outF = weight.Size(0), inF = weight.Size(1);
        Guard.That(x.Rank >= 1 && x.Size(-1) == inF, op, nameof(x),
            $"x has shape {Shapes.Format(x.Shape)}, expected [.., {inF}] (in_features of weight {Shapes.Format(weight.Shape)}).");
        if (bias is not null) Guard.Shape(op, bias.Data, "bias", new[] { outF }, "[out_features]");

        var xShape = x.Data.ShapeArray();
        int rows = x.Data.Length / Math.Max(inF, 1);
        var yShape = xShape[..^1].Append(outF).ToArray();
        Tensor x2 = x.Data.Reshape(rows, inF), w = weight.Data;
        var y2 = Kernels.MatMul.Compute(x2, w, transB: true);
        if (bias is not null) Elementwise.Binary(BinaryOp.Add, y2, bias.Data, y2);
        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, bias };
        return Autograd.Record(y2.Reshape(yShape), "Linear", inputs, g =>
        {
            var g2 = g.Reshape(rows, outF);
            var grads = new Tensor?[inputs.Length];
            if (x.RequiresGrad) grads[0] = Kernels.MatMul.Compute(g2, w).Reshape(xShape);
            if (weight.RequiresGrad) grads[1] = Kernels.MatMul.Compute(g2, x2, transA: true);
            if (bias is not null && bias.RequiresGrad) grads[2] = Elementwise.SumTo(g2, new[] { outF });
            return grads;
        });
    }

    /// <summary>dA for C = op(A)·op(B) with output gradient g (summed over the batch when A is shared).</summary>
    private static Tensor GradA(Tensor a, Tensor b, Tensor g, bool transA, bool transB)
    {
        bool shared = a.Rank == 2 && g.Rank > 2;
        // op(A) untransposed: dA = g·op(B)ᵀ; transposed: dA = op(B)·gᵀ.
        return transA
            ? (shared ? BatchSum(b, g, transB, true) : Kernels.MatMul.Compute(b, g, transB, true))
            : (shared ? BatchSum(g, b, false, !transB) : Kernels.MatMul.Compute(g, b, false, !transB));
    }

    /// <summary>dB for C = op(A)·op(B) with output gradient g (summed over the batch when B is shared).</summary>
    private static Tensor GradB(Tensor a, Tensor b, Tensor g, bool transA, bool transB)
    {
        bool shared = b.Rank == 2 && g.Rank > 2;
        // op(B) untransposed: dB = op(A)ᵀ·g; transposed: dB = gᵀ·op(A).
        return transB
            ? (shared ? BatchSum(g, a, true, transA) : Kernels.MatMul.Compute(g, a, true, transA))
            : (shared ? BatchSum(a, g, !transA, false) : Kernels.MatMul.Compute(a, g, !transA, false));
    }

    /// <summary>
    /// Σ_b op(x[b])·op(y[b]) over the batch of two batched operands. When op(x) is a transpose and op(y) is not, the batch
    /// concatenates along the inner dimension and this is one product; otherwise products accumulate (beta = 1).
    /// </summary>
    private static Tensor BatchSum(Tensor x, Tensor y, bool transX, bool transY)
    {
        int xr = x.Size(-2), xc = x.Size(-1), yr = y.Size(-2), yc = y.Size(-1);
        int batch = x.Length / Math.Max(xr * xc, 1);
        if (batch == 0) return Tensor.Zeros(new[] { transX ? xc : xr, transY ? yr : yc }, DType.Float32, x.Device);
        if (transX && !transY) return Kernels.MatMul.Compute(x.Reshape(batch * xr, xc), y.Reshape(batch * yr, yc), true, false);
        Tensor xs = x.Reshape(batch, xr, xc), ys = y.Reshape(batch, yr, yc);
        Tensor? sum = null;
        for (int i = 0; i < batch; i++)
        {
            Tensor xi = xs.Slice(i, 1).Reshape(xr, xc), yi = ys.Slice(i, 1).Reshape(yr, yc);
            sum = Kernels.MatMul.Compute(xi, yi, transX, transY, sum, beta: sum is null ? 0f : 1f);
        }
        return sum!;
    }
}
