namespace Ssm.Kernels;

// C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ (the BLAS sgemm contract), over a batch of matrices.
// CPU: blocked, packed GEMM after Goto & van de Geijn, "Anatomy of High-Performance Matrix Multiplication" (TOMS 2008)
// and the BLIS loop structure (Van Zee & van de Geijn, TOMS 2015). ILGPU: the classic shared-memory tiled kernel.

/// <summary>
/// Matrix products: <c>C = alpha·op(A)·op(B) + beta·C</c>, where op(X) is X or its transpose over the last two
/// dimensions. Rank-2 × rank-2; batched (leading dimensions equal on both sides); and a rank-≥3 operand times a shared
/// rank-2 operand (e.g. <c>x[B, L, K] × Wᵀ</c> with <c>W[N, K]</c>, the linear layer), or a shared rank-2 operand
/// times a batched one.
/// </summary>
public static class MatMul
{
    /// <summary>
    /// C = alpha·op(a)·op(b) + beta·C. With op(a) of shape [.., M, K] and op(b) of shape [.., K, N] the result has
    /// shape [batch dims.., M, N], where the batch dims are those of the operand of rank ≥ 3 (both must agree when both
    /// have them). When <paramref name="output"/> is null a new tensor is returned and C starts at zero (beta has no
    /// effect); otherwise the product is accumulated into <paramref name="output"/> (which must not overlap a or b) and
    /// that tensor is returned.
    /// </summary>
    /// <param name="a">Left operand, rank ≥ 2 ([.., M, K], or [.., K, M] when <paramref name="transA"/>).</param>
    /// <param name="b">Right operand, rank ≥ 2 ([.., K, N], or [.., N, K] when <paramref name="transB"/>).</param>
    /// <param name="transA">Use the transpose of a's last two dimensions.</param>
    /// <param name="transB">Use the transpose of b's last two dimensions.</param>
    /// <param name="output">Optional destination C of shape [batch dims.., M, N].</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of the existing C (only with <paramref name="output"/>).</param>
    public static Tensor Compute(Tensor a, Tensor b, bool transA = false, bool transB = false, Tensor? output = null,
        float alpha = 1, float beta = 0)
    {
        const string op = "MatMul.Compute";
        Guard.DType(op, a, "a", DType.Float32);
        Guard.DType(op, b, "b", DType.Float32);
        Guard.SameDevice(op, a, "a", b, "b");
        a.ThrowIfDisposed();
        b.ThrowIfDisposed();
        var (layout, shape) = Plan(op, a, b, transA, transB);
        Tensor c;
        if (output is null)
        {
            c = Tensor.Empty(shape, DType.Float32, a.Device);
            beta = 0;
        }
        else
        {
            c = output;
            c.ThrowIfDisposed();
            Guard.DType(op, c, "output", DType.Float32);
            Guard.SameDevice(op, a, "a", c, "output");
            Guard.Shape(op, c, "output", shape, "[batch.., M, N]");
            Guard.That(!Overlaps(c, a) && !Overlaps(c, b), op, nameof(output), "output overlaps an input; pass a separate tensor.");
        }
        if (c.Length == 0) return c;
        if (layout.K == 0)
        {
            // The product is empty: C = beta·C.
            if (beta == 0) Elementwise.Fill(c, 0f);
            else Elementwise.Unary(UnaryOp.Affine, c, beta, 0f, c);
            return c;
        }
        if (a.Device.IsIlgpu) MatMulGpu.Compute(a, b, c, layout, alpha, beta);
        else MatMulCpu.Compute(a, b, c, layout, alpha, beta);
        return c;
    }

    /// <summary>Checks the operand shapes and returns the batch layout and the output shape.</summary>
    private static (MatMulLayout layout, int[] shape) Plan(string op, Tensor a, Tensor b, bool transA, bool transB)
    {
        if (a.Rank < 2)
            throw new ArgumentException($"{op}: a has shape {Shapes.Format(a.Shape)}, expected rank ≥ 2 [.., {(transA ? "K, M" : "M, K")}].", nameof(a));
        if (b.Rank < 2)
            throw new ArgumentException($"{op}: b has shape {Shapes.Format(b.Shape)}, expected rank ≥ 2 [.., {(transB ? "N, K" : "K, N")}].", nameof(b));
        int ra = a.Rank, rb = b.Rank;
        int m = transA ? a.Shape[ra - 1] : a.Shape[ra - 2];
        int ka = transA ? a.Shape[ra - 2] : a.Shape[ra - 1];
        int kb = transB ? b.Shape[rb - 1] : b.Shape[rb - 2];
        int n = transB ? b.Shape[rb - 2] : b.Shape[rb - 1];
        if (ka != kb)
            throw new ArgumentException(
                $"{op}: inner dimensions differ: a {Shapes.Format(a.Shape)}{(transA ? " (transposed)" : "")} gives op(a) = [.., {m}, {ka}] " +
                $"but b {Shapes.Format(b.Shape)}{(transB ? " (transposed)" : "")} gives op(b) = [.., {kb}, {n}] (K {ka} vs {kb}).", nameof(b));

        var batchA = a.Shape[..(ra - 2)];
        var batchB = b.Shape[..(rb - 2)];
        if (batchA.Length > 0 && batchB.Length > 0 && !Shapes.Equal(batchA, batchB))
            throw new ArgumentException(
                $"{op}: batch dimensions differ: a {Shapes.Format(a.Shape)} has batch {Shapes.Format(batchA)}, b {Shapes.Format(b.Shape)} " +
                $"has batch {Shapes.Format(batchB)}; they must be equal, or one operand must be rank 2 (shared across the batch).", nameof(b));
        var batchDims = batchA.Length > 0 ? batchA : batchB;
        int batch = Shapes.Numel(batchDims);
        var shape = new int[batchDims.Length + 2];
        batchDims.CopyTo(shape);
        shape[^2] = m;
        shape[^1] = n;
        Shapes.Numel(shape); // throws when the output would be too large
        var layout = new MatMulLayout
        {
            Batch = batch, M = m, N = n, K = ka, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0,
            StrideA = batchA.Length > 0 ? m * ka : 0, StrideB = batchB.Length > 0 ? ka * n : 0,
        };
        return (layout, shape);
    }

    private static bool Overlaps(Tensor x, Tensor y)
        => x.Storage == y.Storage && x.Length > 0 && y.Length > 0 && x.Offset < y.Offset + y.Length && y.Offset < x.Offset + x.Length;
}

/// <summary>
/// Shapes of a batched product C[b] = op(A[b])·op(B[b]) (flat struct, also passed to ILGPU kernels): op(A) is M×K,
/// op(B) is K×N, C is M×N, each matrix dense row-major. A stride of 0 shares that operand across the batch.
/// </summary>
internal struct MatMulLayout
{
    public int Batch, M, N, K;
    /// <summary>1 when A is stored K×M (op(A) = Aᵀ).</summary>
    public int TransA;
    /// <summary>1 when B is stored N×K (op(B) = Bᵀ).</summary>
    public int TransB;
    /// <summary>Elements between consecutive batch matrices of A (0: shared).</summary>
    public int StrideA;
    /// <summary>Elements between consecutive batch matrices of B (0: shared).</summary>
    public int StrideB;
}
