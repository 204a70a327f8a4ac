using Ssm.Kernels;

namespace Ssm;

/// <summary>One compared gradient entry of a <see cref="GradCheck"/>.</summary>
/// <param name="Input">Index of the input.</param>
/// <param name="Element">Flat element index.</param>
/// <param name="Analytic">Gradient from the backward pass.</param>
/// <param name="Numeric">Central finite difference.</param>
public readonly record struct GradCheckEntry(int Input, int Element, double Analytic, double Numeric);

/// <summary>
/// Finite-difference gradient checker. The scalar L = Σ f(x)·w (w a fixed random tensor) is differentiated by the
/// backward pass and by central differences (L accumulated in float64 on the host); each checked element must satisfy
/// |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|).
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks the gradients of <paramref name="f"/> with respect to each input that requires a gradient; throws
    /// <see cref="InvalidOperationException"/> listing the worst mismatches. At most <paramref name="maxElements"/>
    /// elements per input are checked (chosen at random, seeded).
    /// </summary>
    public static IReadOnlyList<GradCheckEntry> Assert(Func<Variable[], Variable> f, Variable[] inputs,
        double eps = 1e-2, double atol = 1e-3, double rtol = 1e-2, int maxElements = 48, int seed = 1)
    {
        var entries = Compute(f, inputs, eps, maxElements, seed);
        var bad = entries.Where(e => Math.Abs(e.Analytic - e.Numeric) > atol + rtol * Math.Max(Math.Abs(e.Analytic), Math.Abs(e.Numeric)))
            .OrderByDescending(e => Math.Abs(e.Analytic - e.Numeric)).ToList();
        if (bad.Count > 0)
            throw new InvalidOperationException($"GradCheck: {bad.Count} of {entries.Count} gradient entries differ:\n" +
                string.Join("\n", bad.Take(8).Select(e => $"  input {e.Input} [{e.Element}]: analytic {e.Analytic:G6}, numeric {e.Numeric:G6}")));
        if (entries.Count == 0) throw new InvalidOperationException("GradCheck: no input requires a gradient; nothing was checked.");
        return entries;
    }

    /// <summary>Computes analytic and numeric gradients for a sample of elements of every input that requires one.</summary>
    public static List<GradCheckEntry> Compute(Func<Variable[], Variable> f, Variable[] inputs, double eps, int maxElements, int seed)
    {
        var rng = new Rng(seed);
        float[] weights;
        using (Autograd.NoGrad())
        using (var probe = TensorScope.Begin())
            weights = RandomWeights(f(inputs).Data.Length, rng);

        // Analytic.
        var analytic = new float[inputs.Length][];
        using (var scope = TensorScope.Begin())
        {
            foreach (var v in inputs) v.ZeroGrad();
            var y = f(inputs);
            var w = Tensor.From(weights, y.Shape, y.Device);
            y.Backward(w);
            for (int i = 0; i < inputs.Length; i++)
                analytic[i] = inputs[i].RequiresGrad ? inputs[i].Grad?.ToArray() ?? new float[inputs[i].Data.Length] : Array.Empty<float>();
            foreach (var v in inputs) v.ZeroGrad();
        }

        // Numeric.
        var entries = new List<GradCheckEntry>();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            var data = inputs[i].Data;
            var host = data.ToArray();
            var picks = Enumerable.Range(0, host.Length).ToArray();
            rng.Shuffle(picks.AsSpan());
            foreach (var e in picks.Take(maxElements))
            {
                float orig = host[e];
                host[e] = (float)(orig + eps);
                data.CopyFromHost<float>(host);
                double plus = Loss(f, inputs, weights);
                host[e] = (float)(orig - eps);
                data.CopyFromHost<float>(host);
                double minus = Loss(f, inputs, weights);
                host[e] = orig;
                data.CopyFromHost<float>(host);
                double h = ((double)(float)(orig + eps) - (float)(orig - eps));
                entries.Add(new GradCheckEntry(i, e, analytic[i][e], (plus - minus) / h));
            }
        }
        return entries;
    }

    private static double Loss(Func<Variable[], Variable> f, Variable[] inputs, float[] weights)
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        var y = f(inputs).Data.ToArray();
        double sum = 0;
        for (int k = 0; k < y.Length; k++) sum += (double)y[k] * weights[k];
        return sum;
    }

    private static float[] RandomWeights(int n, Rng rng)
    {
        var w = new float[n];
        rng.FillUniform(w, -1, 1);
        return w;
    }
}
