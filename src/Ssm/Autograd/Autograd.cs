using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// The reverse-mode tape: recording (<see cref="Record"/>), no-grad mode (<see cref="NoGrad"/>), and the backward pass
/// (topological order, gradient accumulation into leaves).
/// </summary>
public static class Autograd
{
    [ThreadStatic] private static int _noGradDepth;

    /// <summary>True unless inside <see cref="NoGrad"/> on this thread.</summary>
    public static bool IsGradEnabled => _noGradDepth == 0;

    /// <summary>Disables recording on this thread until disposed (like <c>torch.no_grad()</c>).</summary>
    public static IDisposable NoGrad() => new NoGradScope();

    /// <summary>
    /// Wraps an op's output: when grad mode is on and any input requires a gradient, records <paramref name="backward"/>
    /// so that <see cref="Backward"/> can call it; otherwise returns a plain variable.
    /// </summary>
    public static Variable Record(Tensor output, string op, Variable[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (!IsGradEnabled) return new Variable(output);
        foreach (var input in inputs)
            if (input.RequiresGrad) return new Variable(output, new Node(op, inputs, backward));
        return new Variable(output);
    }

    /// <summary>
    /// Like <see cref="Record"/> for an op with several outputs and one backward: <paramref name="backward"/> receives
    /// the gradient of each output (null for an output the loss does not depend on) and runs once per backward pass.
    /// </summary>
    public static Variable[] RecordMany(Tensor[] outputs, string op, Variable[] inputs, Func<Tensor?[], Tensor?[]> backward)
    {
        if (!IsGradEnabled || !inputs.Any(i => i.RequiresGrad)) return outputs.Select(o => new Variable(o)).ToArray();
        // Each output's node hands its gradient to a shared slot and passes an empty gradient on to one hidden joint
        // variable; the joint node comes after all outputs in reverse topological order and runs the real backward.
        var slots = new Tensor?[outputs.Length];
        var joint = new Variable(Tensor.Empty(new[] { 0 }, DType.Float32, outputs[0].Device), new Node(op, inputs, _ => backward(slots)));
        var jointInput = new[] { joint };
        return outputs.Select((o, k) => new Variable(o, new Node(op, jointInput, g =>
        {
            slots[k] = g;
            return new Tensor?[] { Tensor.Empty(new[] { 0 }, DType.Float32, g.Device) };
        }))).ToArray();
    }

    internal static void Backward(Variable root, Tensor? gradient)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("Backward: the variable does not require a gradient (no input of its graph requires one).");
        if (gradient is null)
        {
            if (root.Data.Length != 1)
                throw new InvalidOperationException($"Backward: the output has shape {Shapes.Format(root.Shape)}; pass a gradient for a non-scalar output.");
            gradient = Tensor.Full(root.Shape, 1f, root.Device);
        }
        else if (!Shapes.Equal(gradient.Shape, root.Shape))
            throw new ArgumentException($"Backward: gradient has shape {Shapes.Format(gradient.Shape)}, expected {Shapes.Format(root.Shape)}.", nameof(gradient));

        var order = TopologicalOrder(root);
        var grads = new Dictionary<Variable, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        using var noGrad = NoGrad();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var v = order[i];
            if (!grads.Remove(v, out var g)) continue;
            if (v.Node is null)
            {
                Accumulate(v, g);
                continue;
            }
            var node = v.Node;
            var inputGrads = node.Backward(g);
            if (inputGrads.Length != node.Inputs.Length)
                throw new InvalidOperationException($"Backward of {node.Op} returned {inputGrads.Length} gradients for {node.Inputs.Length} inputs.");
            for (int k = 0; k < inputGrads.Length; k++)
            {
                var input = node.Inputs[k];
                var ig = inputGrads[k];
                if (ig is null || !input.RequiresGrad) continue;
                if (!Shapes.Equal(ig.Shape, input.Shape))
                    throw new InvalidOperationException($"Backward of {node.Op}: gradient {k} has shape {Shapes.Format(ig.Shape)}, expected {Shapes.Format(input.Shape)}.");
                grads[input] = grads.TryGetValue(input, out var prev) ? Elementwise.Add(prev, ig) : ig;
            }
            v.Node = null; // release the graph as we go
        }
    }

    private static void Accumulate(Variable leaf, Tensor g)
    {
        if (leaf.Grad is null || leaf.Grad.IsDisposed) leaf.Grad = g.Clone().DetachFromScope();
        else Elementwise.Axpy(1f, g, leaf.Grad);
    }

    private static List<Variable> TopologicalOrder(Variable root)
    {
        var order = new List<Variable>();
        var visited = new HashSet<Variable>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Variable v, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (v, next) = stack.Pop();
            var inputs = v.Node?.Inputs ?? Array.Empty<Variable>();
            if (next < inputs.Length)
            {
                stack.Push((v, next + 1));
                var child = inputs[next];
                if (child.RequiresGrad && visited.Add(child)) stack.Push((child, 0));
            }
            else order.Add(v); // post-order: inputs before outputs
        }
        return order;
    }

    private sealed class NoGradScope : IDisposable
    {
        private bool _done;
        public NoGradScope() => _noGradDepth++;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _noGradDepth--;
        }
    }
}
