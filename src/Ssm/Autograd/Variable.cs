using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// A tensor in the autograd graph: its value (<see cref="Data"/>), whether gradients flow to it
/// (<see cref="RequiresGrad"/>), the op that produced it, and — for leaves such as parameters — its accumulated
/// <see cref="Grad"/>. Ops on variables live in <see cref="F"/> (like <c>torch.nn.functional</c>); each records a
/// hand-written backward on the tape. <see cref="Backward"/> on a scalar runs reverse mode.
/// </summary>
public class Variable
{
    /// <summary>Wraps a tensor; <paramref name="requiresGrad"/> makes it a leaf that accumulates gradients.</summary>
    public Variable(Tensor data, bool requiresGrad = false)
    {
        Data = data ?? throw new ArgumentNullException(nameof(data));
        RequiresGrad = requiresGrad;
    }

    internal Variable(Tensor data, Node node) : this(data, true) => Node = node;

    /// <summary>The value.</summary>
    public Tensor Data { get; protected set; }

    /// <summary>Accumulated gradient (leaves only; null until a backward pass reaches it).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>True when gradients are computed for this variable.</summary>
    public bool RequiresGrad { get; }

    /// <summary>True for a variable not produced by a recorded op (an input or a parameter).</summary>
    public bool IsLeaf => Node is null;

    internal Node? Node { get; set; }

    /// <summary>Shape of <see cref="Data"/>.</summary>
    public ReadOnlySpan<int> Shape => Data.Shape;

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => Data.Size(dim);

    /// <summary>Number of dimensions.</summary>
    public int Rank => Data.Rank;

    /// <summary>Device of <see cref="Data"/>.</summary>
    public Device Device => Data.Device;

    /// <summary>The same value cut off from the graph.</summary>
    public Variable Detach() => new(Data);

    /// <summary>Drops the accumulated gradient.</summary>
    public void ZeroGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    /// <summary>
    /// Reverse-mode differentiation from this variable: a scalar unless <paramref name="gradient"/> (same shape) is given.
    /// Gradients accumulate into the leaves' <see cref="Grad"/>; the graph is released afterwards.
    /// </summary>
    public void Backward(Tensor? gradient = null) => Autograd.Backward(this, gradient);

    /// <summary>The single value of a one-element variable.</summary>
    public float Item() => Data.Item();

    /// <summary>a + b (broadcasting).</summary>
    public static Variable operator +(Variable a, Variable b) => F.Add(a, b);
    /// <summary>a − b (broadcasting).</summary>
    public static Variable operator -(Variable a, Variable b) => F.Sub(a, b);
    /// <summary>a · b (broadcasting).</summary>
    public static Variable operator *(Variable a, Variable b) => F.Mul(a, b);
    /// <summary>a / b (broadcasting).</summary>
    public static Variable operator /(Variable a, Variable b) => F.Div(a, b);
    /// <summary>−a.</summary>
    public static Variable operator -(Variable a) => F.Neg(a);
    /// <summary>a · s.</summary>
    public static Variable operator *(Variable a, float s) => F.Scale(a, s);
    /// <summary>s · a.</summary>
    public static Variable operator *(float s, Variable a) => F.Scale(a, s);
    /// <summary>a + s.</summary>
    public static Variable operator +(Variable a, float s) => F.Affine(a, 1f, s);

    /// <inheritdoc />
    public override string ToString() => $"Variable({Data}{(RequiresGrad ? ", requires_grad" : "")})";
}

/// <summary>One recorded op: its inputs and the backward that maps the output gradient to input gradients.</summary>
/// <param name="Op">Op name (for error messages).</param>
/// <param name="Inputs">The op's inputs, in order.</param>
/// <param name="Backward">Given dL/d(output), returns dL/d(input) for each input (null where not needed).</param>
internal sealed record Node(string Op, Variable[] Inputs, Func<Tensor, Tensor?[]> Backward);
