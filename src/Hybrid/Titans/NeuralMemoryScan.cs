using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

// The Titans neural long-term memory (Behrouz, Zhong & Mirrokni 2024, "Titans: Learning to Memorize at Test Time",
// §3.1 eqs. 8–15, parallel form §3.2), for R = batch·heads independent memories at once. The memory is an MLP
// M(x) = W_D σ(… σ(W_1 x)) with weights W_l [d_l, d_{l−1}]; for each token t with key k_t, value v_t, query q_t and
// data-dependent θ_t (learning rate), η_t (momentum), α_t (forgetting):
//   ℓ_t(M) = ‖M(k_t) − v_t‖²,  S_t = η_t S_{t−1} − θ_t ∇ℓ_t(M_{t'}),  M_t = (1 − α_t) M_{t−1} + S_t,
//   y_t = M_{t'}(q_t)  (retrieval, no update),
// where t' is the start of t's chunk of b tokens: all gradients and retrievals of a chunk use the chunk-start weights
// (chunk size 1: plain token-by-token online learning). Chunked form used here:
// * The gradient of one token is rank-1 per layer: with a_0 = k, z_l = W_l a_{l−1}, a_l = σ(z_l), δ_D = z_D − v,
//   δ_{l−1} = (W_lᵀ δ_l) ⊙ σ′(z_{l−1}), ∇_{W_l} ℓ_t = 2 δ_{l,t} a_{l−1,t}ᵀ — batched matmuls over the chunk's tokens.
// * Within a chunk the two recurrences are linear, so the chunk-end state is
//     S_b = E·S_0 − Σ_s ε_s θ_s ∇ℓ_s,   M_b = A·M_0 + K·S_0 − Σ_s γ_s θ_s ∇ℓ_s
//   with A = Π(1−α_r), E = Π η_r, ε_s = Π_{r>s} η_r, γ_s = Σ_{t≥s} (Π_{r=t+1..b} (1−α_r))(Π_{r=s+1..t} η_r), K = η_1 γ_1:
//   ε and γ are reverse linear scans over the chunk (γ_s = tail_s + η_{s+1} γ_{s+1}, tail_s = Π_{r>s}(1−α_r)), and
//   each Σ_s c_s ∇ℓ_s is one matmul (c ⊙ δ_l)ᵀ a_{l−1}; no per-token weight matrix is ever materialized.
// * Chunks are sequential (chunk c's gradients need the weights after chunk c−1); everything is recorded on the tape,
//   so the outer model trains through the memory by ordinary backprop (including the second-order terms: the
//   activation's σ″ via F.ActivationGrad).
// A state may stop mid-chunk (inference, chunked prefill): it then carries the chunk-start weights G next to the running
// weights, and the next call first finishes that chunk (gradients and retrieval at G).
// Optional stability clamp: each token's gradient is scaled by min(1, c/‖∇ℓ_t‖) (Frobenius norm over all layers,
// ‖2 δ aᵀ‖ = 2‖δ‖‖a‖), like titans-pytorch's max_grad_norm. It bounds the forward, not the backward.
// Optional backward clamp (MaxStateGradNorm, a deliberately clipped backward): the outer model's gradient flows back
// through the whole chain of chunk updates, and its true value grows exponentially with the number of chunks whenever
// the inner steps are large enough that the chunk map (M, S) → (M′, S′) expands on average (Jacobian norm > 1 —
// gradient descent with a step past the stable range, kept bounded in the forward by the clamp and the forgetting).
// Measured on the inputs of a d_model 64 MAG layer (θ ≈ 0.05, η ≈ 0.6, α ≈ 0.02, head width 16, chunk 16): a float64
// forward perturbation of the initial weights grows ~10¹⁶ over 512 chunks, mostly in bursts (several decades within a
// few dozen chunks while the weights swell), matching the float32 backward, which overflows at 8K tokens; with θ four times smaller the same chain stays O(1). With a bound c
// the gradient w.r.t. each chunk-end state (M′, S′) of every layer and memory row is scaled to at most norm c before it
// flows into the chunk (F.MemoryChunkUpdate's backward; all uses of the state have been summed there), so the gradient
// reaching any earlier state and every parameter stays finite over any number of chunks. A gradient already below c is
// exact; above it, it is the true gradient's direction at norm c (clip_grad_norm per chunk, in the loss's units).

/// <summary>Settings of <see cref="NeuralMemoryScan.Run"/>.</summary>
/// <param name="ChunkSize">Tokens whose gradients are taken at the same (chunk-start) weights; 1 = token by token.</param>
/// <param name="Activation">The memory MLP's activation σ (<see cref="UnaryOp.Silu"/> or <see cref="UnaryOp.Gelu"/>).</param>
/// <param name="MaxGradNorm">When set, each token's gradient (all layers) is scaled down to at most this Frobenius norm.</param>
/// <param name="MaxStateGradNorm">
/// When set, a clipped backward: the gradient w.r.t. each chunk-end memory state (weights and momentum of one layer and
/// memory row) is scaled down to at most this Frobenius norm before it flows back into the chunk, which bounds the
/// gradient through any number of chunks (the true one can grow exponentially; see the top of NeuralMemoryScan.cs).
/// The forward is unchanged.
/// </param>
public sealed record NeuralMemoryScanOptions(int ChunkSize, UnaryOp Activation = UnaryOp.Silu, float? MaxGradNorm = null, float? MaxStateGradNorm = null);

/// <summary>
/// State of R memories: per MLP layer l the weights <see cref="Weights"/>[l] [R, d_l, d_{l−1}], the momentum
/// <see cref="Momentum"/>[l] (same shape) and the weights at the start of the current chunk <see cref="ChunkStart"/>[l];
/// <see cref="Offset"/> tokens of the current chunk have been consumed (0: at a chunk boundary, ChunkStart = Weights).
/// </summary>
/// <param name="Weights">Current weights, one per layer.</param>
/// <param name="Momentum">Current momentum (surprise) S, one per layer.</param>
/// <param name="ChunkStart">Weights at the start of the current chunk (where the chunk's gradients and retrievals are taken).</param>
/// <param name="Offset">Tokens of the current chunk already consumed, in [0, chunk size).</param>
public sealed record MemoryScanState(IReadOnlyList<Variable> Weights, IReadOnlyList<Variable> Momentum, IReadOnlyList<Variable> ChunkStart, int Offset);

/// <summary>
/// The chunked parallel form of the Titans memory update and retrieval over R memories (math at the top of this file).
/// Inputs q, k, v [R, L, d] and the per-token θ (learning rate), η (momentum), α (forgetting) [R, L], already in their
/// ranges. Differentiable end to end.
/// </summary>
public static class NeuralMemoryScan
{
    /// <summary>M(x) for weights [R, d_l, d_{l−1}] per layer and x [R, n, d_0]: the memory read (no update), [R, n, d_D].</summary>
    public static Variable Retrieve(IReadOnlyList<Variable> weights, Variable x, UnaryOp activation)
    {
        var a = x;
        for (int l = 0; l < weights.Count; l++)
        {
            var z = F.MatMul(a, weights[l], transB: true);
            a = l + 1 < weights.Count ? Activate(activation, z) : z;
        }
        return a;
    }

    /// <summary>
    /// Runs the memory over L tokens from <paramref name="state"/>: returns the retrievals y_t = M_{t'}(q_t) [R, L, d_D]
    /// and the state after the last token.
    /// </summary>
    public static (Variable Retrieved, MemoryScanState State) Run(MemoryScanState state, Variable q, Variable k, Variable v,
        Variable lr, Variable momentum, Variable decay, NeuralMemoryScanOptions options)
    {
        const string op = "NeuralMemoryScan.Run";
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(options);
        var (rows, length, dOut) = Check(op, state, q, k, v, lr, momentum, decay, options);
        int b = options.ChunkSize, offset = state.Offset, depth = state.Weights.Count;
        if (length == 0)
            return (new Variable(Tensor.Zeros(new[] { rows, 0, dOut }, DType.Float32, q.Device)), state);

        int chunks = (offset + length + b - 1) / b, padRight = chunks * b - offset - length;
        var c = ChunkCoefficients(rows, length, b, offset, padRight, lr, momentum, decay);

        // Per-chunk pieces, split once (one node each, linear-cost backward).
        var sizes = new int[chunks];
        for (int ch = 0; ch < chunks; ch++) sizes[ch] = Math.Min(ch * b - offset + b, length) - Math.Max(ch * b - offset, 0);
        Variable[] Pieces(Variable x, int dim, int[] pieceSizes) => pieceSizes.Length == 1 ? new[] { x } : F.Split(x, pieceSizes, dim);
        var ones = Enumerable.Repeat(1, chunks).ToArray();
        var qs = Pieces(q, 1, sizes);
        var ks = Pieces(k, 1, sizes);
        var vs = Pieces(v, 1, sizes);
        var coefs = Pieces(c.Tokens, 1, ones);
        var scalars = Pieces(c.Chunk, 1, ones);

        int end = (offset + length) % b;
        // Without a tape nothing needs a chunk's intermediates or an earlier chunk's state once the next state exists:
        // each chunk then runs in its own tensor scope and the state it replaces is released (the caller's own state
        // and the returned chunk-start weights excepted), so memory stays one chunk's worth, not one per chunk.
        bool release = !Autograd.IsGradEnabled
            || !new[] { q, k, v, lr, momentum, decay }.Concat(state.Weights).Concat(state.Momentum).Concat(state.ChunkStart).Any(x => x.RequiresGrad);
        var weights = state.Weights.ToArray();
        var surprise = state.Momentum.ToArray();
        var point = state.ChunkStart.ToArray();
        var retrieved = new List<Variable>(chunks);
        for (int ch = 0; ch < chunks; ch++)
        {
            if (ch > 0) point = weights;
            Variable y;
            Variable[] nextWeights, nextSurprise;
            using (var scope = release ? TensorScope.Begin() : null)
            {
                (y, nextWeights, nextSurprise) = Chunk(ch, point, weights, surprise);
                if (scope is not null)
                    foreach (var t in nextWeights.Concat(nextSurprise).Append(y)) scope.MoveToOuter(t.Data);
            }
            if (release && ch > 0)
            {
                foreach (var t in surprise) t.Data.Dispose();
                if (ch < chunks - 1 || end == 0)
                    foreach (var t in weights) t.Data.Dispose();
            }
            retrieved.Add(y);
            weights = nextWeights;
            surprise = nextSurprise;
        }
        var final = new MemoryScanState(weights, surprise, end == 0 ? weights : point, end);
        if (retrieved.Count == 1) return (retrieved[0], final);
        var output = F.Concat(retrieved, 1);
        if (release)
            foreach (var t in retrieved) t.Data.Dispose();
        return (output, final);

        // One chunk from its start weights: the retrieval and the chunk-end weights and momentum.
        (Variable Retrieved, Variable[] Weights, Variable[] Momentum) Chunk(int ch, Variable[] point, Variable[] weights, Variable[] surprise)
        {
            int n = sizes[ch], local = ch == 0 ? offset : 0;
            var y = Retrieve(point, qs[ch], options.Activation);

            // Forward of the keys at the chunk-start weights, then the rank-1 gradient factors δ_l (output side) and a_{l−1}.
            var inputs = new Variable[depth];
            var pre = new Variable[depth];
            var a = ks[ch];
            for (int l = 0; l < depth; l++)
            {
                inputs[l] = a;
                pre[l] = F.MatMul(a, point[l], transB: true);
                a = l + 1 < depth ? Activate(options.Activation, pre[l]) : pre[l];
            }
            var deltas = new Variable[depth];
            deltas[depth - 1] = F.Sub(pre[depth - 1], vs[ch]);
            for (int l = depth - 1; l > 0; l--)
                deltas[l - 1] = F.ActivationGrad(options.Activation, pre[l - 1], F.MatMul(deltas[l], point[l]));

            // Per-token coefficients [R, n, 2, 1] of the two weighted gradient sums (2θγ for M, 2θε for S).
            var coef = F.Reshape(n == b ? coefs[ch] : F.Narrow(coefs[ch], 2, local, n), rows, n, 2, 1);
            if (options.MaxGradNorm is float maxNorm)
                coef = F.Mul(coef, F.Reshape(ClampScale(deltas, inputs, maxNorm), rows, n, 1, 1));

            var abc = F.Split(scalars[ch], new[] { 1, 1, 1 }, 2);
            Variable keep = F.Reshape(abc[0], rows), carry = F.Reshape(abc[1], rows), momentumKeep = F.Reshape(abc[2], rows);
            var nextWeights = new Variable[depth];
            var nextSurprise = new Variable[depth];
            for (int l = 0; l < depth; l++)
            {
                int dl = deltas[l].Size(2), din = inputs[l].Size(2);
                var scaled = F.Reshape(F.Mul(F.Reshape(deltas[l], rows, n, 1, dl), coef), rows, n, 2 * dl);
                var delta = F.Reshape(F.MatMul(scaled, inputs[l], transA: true), rows, 2, dl, din);
                (nextWeights[l], nextSurprise[l]) = F.MemoryChunkUpdate(weights[l], surprise[l], delta, keep, carry, momentumKeep, options.MaxStateGradNorm);
            }
            return (y, nextWeights, nextSurprise);
        }
    }

    /// <summary>σ(z) for the supported activations.</summary>
    private static Variable Activate(UnaryOp activation, Variable z) => activation == UnaryOp.Gelu ? F.Gelu(z) : F.Silu(z);

    /// <summary>Per-chunk coefficients: Tokens [R, chunks, b, 2] (2θγ, 2θε per token) and Chunk [R, chunks, 3] (A, K, E per chunk).</summary>
    private sealed record Coefficients(Variable Tokens, Variable Chunk);

    /// <summary>
    /// The within-chunk coefficients for all chunks at once. θ, η and 1 − α are laid out [R·chunks, b, 1] with the tokens
    /// before the state's offset and after the last token padded (θ 0, η 1, 1 − α 1); reverse scans from each chunk's last
    /// real token give tail, ε and γ (γ's input masked to real tokens so padding adds nothing).
    /// </summary>
    private static Coefficients ChunkCoefficients(int rows, int length, int b, int offset, int padRight, Variable lr, Variable momentum, Variable decay)
    {
        var dev = lr.Device;
        int chunks = (offset + length + padRight) / b, seqs = rows * chunks;
        Variable Pad(Variable x, float value)
        {
            if (offset == 0 && padRight == 0) return F.Reshape(x, seqs, b, 1);
            var parts = new List<Variable>(3);
            if (offset > 0) parts.Add(new Variable(Tensor.Full(new[] { rows, offset }, value, dev)));
            parts.Add(x);
            if (padRight > 0) parts.Add(new Variable(Tensor.Full(new[] { rows, padRight }, value, dev)));
            return F.Reshape(F.Concat(parts, 1), seqs, b, 1);
        }
        var theta = Pad(lr, 0f);
        var eta = Pad(momentum, 1f);
        var keep = Pad(F.Affine(decay, -1f, 1f), 1f);

        // One-hot at each chunk's last real token, and 1 at real tokens.
        var last = new float[seqs * b];
        var real = new float[seqs * b];
        for (int r = 0; r < rows; r++)
            for (int ch = 0; ch < chunks; ch++)
            {
                int lo = ch == 0 ? offset : 0, hi = ch == chunks - 1 ? b - padRight : b, row = (r * chunks + ch) * b;
                last[row + hi - 1] = 1f;
                for (int s = lo; s < hi; s++) real[row + s] = 1f;
            }
        var lastV = new Variable(Tensor.From(last, new[] { seqs, b, 1 }, dev));
        var realV = new Variable(Tensor.From(real, new[] { seqs, b, 1 }, dev));

        var tail = F.LinearScan(keep, lastV, reverse: true);
        var eps = F.LinearScan(eta, lastV, reverse: true);
        var gamma = F.LinearScan(eta, F.Mul(tail, realV), reverse: true);

        Variable First(Variable x) => F.Narrow(x, 1, 0, 1);
        var etaFirst = First(eta);
        var chunk = F.Concat(new[] { F.Mul(First(keep), First(tail)), F.Mul(etaFirst, First(gamma)), F.Mul(etaFirst, First(eps)) }, 2);
        var tokens = F.Scale(F.Concat(new[] { F.Mul(theta, gamma), F.Mul(theta, eps) }, 2), 2f);
        return new Coefficients(F.Reshape(tokens, rows, chunks, b, 2), F.Reshape(chunk, rows, chunks, 3));
    }

    /// <summary>min(1, c/‖∇ℓ_t‖) per token [R, n], with ‖∇ℓ_t‖² = 4 Σ_l ‖δ_l‖²‖a_{l−1}‖² (clamped before the root).</summary>
    private static Variable ClampScale(Variable[] deltas, Variable[] inputs, float maxNorm)
    {
        Variable? sq = null;
        for (int l = 0; l < deltas.Length; l++)
        {
            var term = F.Mul(F.Sum(F.Square(deltas[l]), -1), F.Sum(F.Square(inputs[l]), -1));
            sq = sq is null ? term : F.Add(sq, term);
        }
        var norm2 = F.Clamp(F.Scale(sq!, 4f), maxNorm * maxNorm, float.MaxValue);
        return F.Scale(F.Pow(norm2, -0.5f), maxNorm);
    }

    private static (int Rows, int Length, int DOut) Check(string op, MemoryScanState state, Variable q, Variable k, Variable v,
        Variable lr, Variable momentum, Variable decay, NeuralMemoryScanOptions options)
    {
        if (options.ChunkSize < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.ChunkSize, $"{op}: chunk size is {options.ChunkSize}, expected ≥ 1.");
        if (!NeuralMemoryOps.SupportsActivation(options.Activation))
            throw new ArgumentException($"{op}: activation {options.Activation} is not supported; expected Silu or Gelu.", nameof(options));
        if (options.MaxGradNorm is float m && !(m > 0))
            throw new ArgumentOutOfRangeException(nameof(options), m, $"{op}: MaxGradNorm is {m}, expected > 0.");
        if (options.MaxStateGradNorm is float sm && !(sm > 0 && float.IsFinite(sm)))
            throw new ArgumentOutOfRangeException(nameof(options), sm, $"{op}: MaxStateGradNorm is {sm}, expected a finite value > 0.");
        int depth = state.Weights.Count;
        if (depth == 0 || state.Momentum.Count != depth || state.ChunkStart.Count != depth)
            throw new ArgumentException($"{op}: state has {depth} weights, {state.Momentum.Count} momenta and {state.ChunkStart.Count} chunk-start weights; expected the same number ≥ 1.", nameof(state));
        if (state.Offset < 0 || state.Offset >= options.ChunkSize)
            throw new ArgumentOutOfRangeException(nameof(state), state.Offset, $"{op}: state offset is {state.Offset}, expected in [0, {options.ChunkSize}) (the chunk size).");
        Guard.Rank(op, q.Data, "q", 3, "[rows, length, d_in]");
        int rows = q.Size(0), length = q.Size(1), dIn = state.Weights[0].Size(-1);
        int prev = dIn;
        for (int l = 0; l < depth; l++)
        {
            var w = state.Weights[l].Data;
            Guard.Rank(op, w, $"weights[{l}]", 3, "[rows, d_out, d_in]");
            Guard.Shape(op, w, $"weights[{l}]", new[] { rows, -1, prev }, $"[{rows}, d_{l + 1}, {prev}] (rows of q, input width of layer {l})");
            Guard.Shape(op, state.Momentum[l].Data, $"momentum[{l}]", w.Shape, "(the shape of its weights)");
            Guard.Shape(op, state.ChunkStart[l].Data, $"chunkStart[{l}]", w.Shape, "(the shape of its weights)");
            prev = w.Shape[1];
        }
        Guard.Shape(op, q.Data, "q", new[] { rows, length, dIn }, $"[rows, length, {dIn}] (the memory's input width)");
        Guard.Shape(op, k.Data, "k", new[] { rows, length, dIn }, $"[{rows}, {length}, {dIn}] (rows and length of q)");
        Guard.Shape(op, v.Data, "v", new[] { rows, length, prev }, $"[{rows}, {length}, {prev}] (the memory's output width)");
        foreach (var (x, name) in new[] { (lr, "lr"), (momentum, "momentum"), (decay, "decay") })
            Guard.Shape(op, x.Data, name, new[] { rows, length }, $"[{rows}, {length}] (rows and length of q)");
        return (rows, length, prev);
    }
}
