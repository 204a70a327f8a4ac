using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.S4;

// The frame shared by the S4 (DPLR) and S4D (diagonal) layers (s4.py S4Block / s4d.py S4D):
//   y = GLU(W·dropout(GELU(K * u + D·u)) + b), K the layer's kernel, * the causal FFT convolution (SsmLayerOps.Convolve);
//   chunked prefill adds the carried state's response to K * u; the recurrent step is y_t = GLU(W·GELU(r_t + D·u_t) + b)
//   with r_t the layer's recurrence. The layer supplies the kernel, the recurrence, its dropout and the output matrix.

/// <summary>
/// Base of the convolutional SSM layers <see cref="S4Block"/> and <see cref="S4D"/>: the input check, the long
/// convolution with the skip D, the carried state's response in chunked prefill, GELU, dropout and the GLU output
/// projection, and the recurrent step around the layer's own kernel and recurrence. Input and output are [B, H, L]
/// when the layer is transposed and [B, L, H] otherwise.
/// </summary>
/// <typeparam name="TState">The layer's recurrent state.</typeparam>
public abstract class ConvolutionalSsmLayer<TState> : Module, IForward where TState : SsmLayerState
{
    private readonly string _name;
    private readonly string _kind;

    private protected ConvolutionalSsmLayer(string name, string kind)
    {
        _name = name;
        _kind = kind;
    }

    /// <summary>Model width H.</summary>
    public abstract int H { get; }

    /// <summary>Skip connection D (H elements).</summary>
    public abstract Parameter D { get; }

    private protected abstract bool Transposed { get; }

    private protected abstract bool Bidirectional { get; }

    /// <summary>The convolution kernel [channels, H, length] (channels 2 when bidirectional).</summary>
    private protected abstract Variable ConvolutionKernel(int length);

    /// <summary>Runs the recurrence over u [batch, H, length] from <paramref name="state"/>, advancing it (no autograd).</summary>
    private protected abstract Tensor Recurrence(TState state, Tensor u, bool homogeneousOutput);

    /// <summary>The layer's dropout after GELU (identity outside training).</summary>
    private protected abstract Variable ApplyDropout(Variable y);

    /// <summary>The output projection as a matrix [2H, H] and its bias [2H].</summary>
    private protected abstract (Variable Weight, Variable? Bias) OutputProjection();

    /// <summary>AdamW groups: everything else (optimizer defaults), then the kernel's SSM parameters at <paramref name="ssmLr"/> with no weight decay (see <see cref="S4ParamGroups"/>).</summary>
    public IReadOnlyList<ParamGroup> ParameterGroups(double ssmLr = 1e-3) => S4ParamGroups.Create(this, ssmLr);

    /// <summary>The layer over x ([B, H, L] when transposed, else [B, L, H]); same shape out.</summary>
    public Variable Forward(Variable x) => Forward(x, null);

    /// <summary>
    /// The layer over x. With <paramref name="state"/> (unidirectional only) the sequences continue from it: the initial
    /// state's response is added and the state is advanced to the end of x (chunked prefill). Gradients flow to x and
    /// the parameters through the convolution, not through the carried state.
    /// </summary>
    public Variable Forward(Variable x, TState? state)
    {
        string op = $"{_name}.Forward";
        var (batch, length) = SsmLayerOps.CheckInput(op, x, H, Transposed);
        if (state is not null)
        {
            RequireCausal(op);
            Guard.That(state.Batch == batch, op, nameof(state), $"state holds {state.Batch} sequences, expected {batch} (the batch of x).");
        }
        var u = Transposed ? x : F.Transpose(x, 1, 2);
        var y = SsmLayerOps.Convolve(u, ConvolutionKernel(length), D);
        if (state is not null)
        {
            Tensor response;
            using (Autograd.NoGrad()) response = Recurrence(state, u.Data, homogeneousOutput: true);
            y = F.Add(y, new Variable(response));
        }
        y = ApplyDropout(F.Gelu(y));
        var (w, b) = OutputProjection();
        return Transposed
            ? F.Glu(F.MatMul(w, y), b, 1)
            : F.Glu(F.MatMul(y, w, transA: true, transB: true), b, -1);
    }

    /// <summary>
    /// One recurrent step for x_t [batch, H]: advances <paramref name="state"/> in place and returns the output
    /// [batch, H] (inference: no autograd, no dropout).
    /// </summary>
    public Tensor Step(TState state, Tensor xt)
    {
        string op = $"{_name}.Step";
        RequireCausal(op);
        ArgumentNullException.ThrowIfNull(state);
        Guard.Shape(op, xt, "xt", new[] { state.Batch, H }, $"[{state.Batch}, {H}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        var u = xt.Reshape(state.Batch, H, 1);
        var y = new Variable(Recurrence(state, u, homogeneousOutput: false));
        y = F.Gelu(F.Add(y, F.Mul(new Variable(u), F.Reshape(D, H, 1))));
        var (w, b) = OutputProjection();
        return F.Glu(F.Linear(F.Reshape(y, state.Batch, H), w), b, -1).Data;
    }

    /// <summary>Throws for a bidirectional layer, which has no recurrent form.</summary>
    private protected void RequireCausal(string op)
    {
        if (Bidirectional)
            throw new InvalidOperationException($"{op}: a bidirectional {_kind} layer has no recurrent form (its output depends on future inputs).");
    }
}
