using MathNet.Numerics.LinearAlgebra;

namespace Ssm.Synthetic.Tasks;

// Baselines of in-context regression (Garg et al. 2022, Raventós et al. 2023). Each predicts y_k from the k earlier
// examples (x_i, y_i), i < k, of its own sequence (prediction 0 at k = 0), over the active dimensions:
//   least squares  ŵ = X⁺ y (minimum-norm solution, pseudo-inverse by SVD)
//   ridge          ŵ = (XᵀX + λI)⁻¹ Xᵀy, λ = σ²/τ² (the posterior mean for w ~ N(0, τ²I); τ = 1 here)
//   k-NN           mean of y over the 3 nearest x_i (Euclidean; fewer while k < 3)
//   averaging      ŵ = (1/k) Σ y_i x_i
//   discrete MMSE  ŵ = Σ_m p_m w_m, p_m ∝ exp(−Σ_i (y_i − x_i·w_m)² / 2σ²) over the task pool (uniform prior); the
//                  Bayes estimator for the pool prior (σ = 0: uniform over the pool tasks that fit best).

/// <summary>An in-context regression baseline: predictions [batch, points] for a batch.</summary>
public interface IRegressionBaseline
{
    /// <summary>Name for curves and plots.</summary>
    string Name { get; }

    /// <summary>The prediction of each y_k from the examples before it, [batch, points].</summary>
    float[] Predict(RegressionBatch batch);
}

/// <summary>Shared loop: one prediction per (row, k) from that row's first k examples.</summary>
public abstract class PrefixRegressionBaseline : IRegressionBaseline
{
    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public float[] Predict(RegressionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var pred = new float[batch.Batch * batch.Points];
        Parallel.For(0, batch.Batch, b =>
        {
            int k = batch.Points, d = batch.Dims, a = batch.ActiveDims;
            var x = new double[k, a];
            var y = new double[k];
            for (int i = 0; i < k; i++)
            {
                for (int j = 0; j < a; j++) x[i, j] = batch.Xs[(b * k + i) * d + j];
                y[i] = batch.Ys[b * k + i];
            }
            PredictRow(x, y, pred.AsSpan(b * k, k));
        });
        return pred;
    }

    /// <summary>Fills <paramref name="pred"/>[k] from rows 0..k−1 of <paramref name="x"/> [points, active dims] and <paramref name="y"/>.</summary>
    protected abstract void PredictRow(double[,] x, double[] y, Span<float> pred);

    /// <summary>x_k · w.</summary>
    protected static double Dot(double[,] x, int row, Vector<double> w)
    {
        double s = 0;
        for (int j = 0; j < w.Count; j++) s += x[row, j] * w[j];
        return s;
    }

    /// <summary>The first <paramref name="k"/> rows of x as a matrix and of y as a vector.</summary>
    protected static (Matrix<double> X, Vector<double> Y) Prefix(double[,] x, double[] y, int k)
    {
        var m = Matrix<double>.Build.Dense(k, x.GetLength(1), (i, j) => x[i, j]);
        var v = Vector<double>.Build.Dense(k, i => y[i]);
        return (m, v);
    }
}

/// <summary>Minimum-norm least squares, ŵ = X⁺y.</summary>
public sealed class LeastSquaresBaseline : PrefixRegressionBaseline
{
    /// <inheritdoc />
    public override string Name => "least_squares";

    /// <inheritdoc />
    protected override void PredictRow(double[,] x, double[] y, Span<float> pred)
    {
        pred[0] = 0;
        for (int k = 1; k < pred.Length; k++)
        {
            var (xm, ym) = Prefix(x, y, k);
            pred[k] = (float)Dot(x, k, xm.PseudoInverse() * ym);
        }
    }
}

/// <summary>Ridge regression, ŵ = (XᵀX + λI)⁻¹Xᵀy.</summary>
public sealed class RidgeBaseline : PrefixRegressionBaseline
{
    /// <summary>Creates the baseline (λ &gt; 0; use least squares for λ = 0).</summary>
    public RidgeBaseline(double lambda)
    {
        if (!(lambda > 0) || double.IsInfinity(lambda)) throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "RidgeBaseline: lambda must be positive and finite (least squares is the λ → 0 limit).");
        Lambda = lambda;
    }

    /// <summary>λ.</summary>
    public double Lambda { get; }

    /// <inheritdoc />
    public override string Name => "ridge";

    /// <inheritdoc />
    protected override void PredictRow(double[,] x, double[] y, Span<float> pred)
    {
        pred[0] = 0;
        int a = x.GetLength(1);
        for (int k = 1; k < pred.Length; k++)
        {
            var (xm, ym) = Prefix(x, y, k);
            var gram = xm.TransposeThisAndMultiply(xm) + Lambda * Matrix<double>.Build.DenseIdentity(a);
            pred[k] = (float)Dot(x, k, gram.Cholesky().Solve(xm.TransposeThisAndMultiply(ym)));
        }
    }
}

/// <summary>Mean label of the k nearest earlier inputs (Garg et al.: k = 3).</summary>
public sealed class NearestNeighboursBaseline : PrefixRegressionBaseline
{
    /// <summary>Creates the baseline.</summary>
    public NearestNeighboursBaseline(int neighbours = 3)
    {
        if (neighbours < 1) throw new ArgumentOutOfRangeException(nameof(neighbours), neighbours, "NearestNeighboursBaseline: neighbours must be at least 1.");
        Neighbours = neighbours;
    }

    /// <summary>k.</summary>
    public int Neighbours { get; }

    /// <inheritdoc />
    public override string Name => $"{Neighbours}-nn";

    /// <inheritdoc />
    protected override void PredictRow(double[,] x, double[] y, Span<float> pred)
    {
        pred[0] = 0;
        int a = x.GetLength(1);
        for (int k = 1; k < pred.Length; k++)
        {
            var dist = new (double D, int I)[k];
            for (int i = 0; i < k; i++)
            {
                double s = 0;
                for (int j = 0; j < a; j++) { double e = x[i, j] - x[k, j]; s += e * e; }
                dist[i] = (s, i);
            }
            Array.Sort(dist);
            int n = Math.Min(Neighbours, k);
            double sum = 0;
            for (int i = 0; i < n; i++) sum += y[dist[i].I];
            pred[k] = (float)(sum / n);
        }
    }
}

/// <summary>Averaging: ŵ = (1/k) Σ y_i x_i.</summary>
public sealed class AveragingBaseline : PrefixRegressionBaseline
{
    /// <inheritdoc />
    public override string Name => "averaging";

    /// <inheritdoc />
    protected override void PredictRow(double[,] x, double[] y, Span<float> pred)
    {
        int a = x.GetLength(1);
        var sum = Vector<double>.Build.Dense(a);
        pred[0] = 0;
        for (int k = 1; k < pred.Length; k++)
        {
            for (int j = 0; j < a; j++) sum[j] += y[k - 1] * x[k - 1, j];
            pred[k] = (float)Dot(x, k, sum / k);
        }
    }
}

/// <summary>The discrete MMSE estimator over a finite task pool (Raventós et al.'s dMMSE).</summary>
public sealed class DiscreteMmseBaseline : PrefixRegressionBaseline
{
    private readonly double[,] _pool; // [M, D]

    /// <summary>Creates the estimator for a pool [M, <paramref name="dims"/>] and label noise σ.</summary>
    public DiscreteMmseBaseline(float[] pool, int dims, double noiseStd)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (dims < 1 || pool.Length == 0 || pool.Length % dims != 0)
            throw new ArgumentException($"DiscreteMmseBaseline: pool has {pool.Length} entries, expected a non-empty [M, {dims}].", nameof(pool));
        if (!(noiseStd >= 0) || double.IsInfinity(noiseStd)) throw new ArgumentOutOfRangeException(nameof(noiseStd), noiseStd, "DiscreteMmseBaseline: noiseStd must be finite and non-negative.");
        int m = pool.Length / dims;
        _pool = new double[m, dims];
        for (int i = 0; i < m; i++) for (int j = 0; j < dims; j++) _pool[i, j] = pool[i * dims + j];
        NoiseStd = noiseStd;
    }

    /// <summary>σ assumed by the posterior.</summary>
    public double NoiseStd { get; }

    /// <inheritdoc />
    public override string Name => "dmmse";

    /// <inheritdoc />
    protected override void PredictRow(double[,] x, double[] y, Span<float> pred)
    {
        int m = _pool.GetLength(0), a = x.GetLength(1);
        if (a > _pool.GetLength(1)) throw new ArgumentException($"DiscreteMmseBaseline: the batch has {a} active dims, the pool only {_pool.GetLength(1)}.");
        var residual = new double[m];  // Σ_{i<k} (y_i − x_i·w_m)²
        var fit = new double[m];       // x_k·w_m
        var weight = new double[m];
        for (int k = 0; k < pred.Length; k++)
        {
            for (int t = 0; t < m; t++)
            {
                double s = 0;
                for (int j = 0; j < a; j++) s += x[k, j] * _pool[t, j];
                fit[t] = s;
            }
            double best = residual.Min(), total = 0;
            for (int t = 0; t < m; t++)
            {
                weight[t] = NoiseStd > 0
                    ? Math.Exp(-(residual[t] - best) / (2 * NoiseStd * NoiseStd))
                    : residual[t] <= best * (1 + 1e-9) + 1e-12 ? 1 : 0;
                total += weight[t];
            }
            double p = 0;
            for (int t = 0; t < m; t++) p += weight[t] * fit[t];
            pred[k] = (float)(p / total);
            for (int t = 0; t < m; t++) { double e = y[k] - fit[t]; residual[t] += e * e; }
        }
    }
}

/// <summary>The standard baseline set and error curves.</summary>
public static class RegressionBaselines
{
    /// <summary>
    /// Least squares, ridge (λ = σ², when σ &gt; 0), 3-NN, averaging, and discrete MMSE when the task has a pool.
    /// </summary>
    public static IReadOnlyList<IRegressionBaseline> Standard(LinearRegressionTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        var list = new List<IRegressionBaseline> { new LeastSquaresBaseline() };
        double s2 = task.Options.NoiseStd * task.Options.NoiseStd;
        if (s2 > 0) list.Add(new RidgeBaseline(s2));
        list.Add(new NearestNeighboursBaseline(3));
        list.Add(new AveragingBaseline());
        if (task.Pool is float[] pool) list.Add(new DiscreteMmseBaseline(pool, task.Options.Dims, task.Options.NoiseStd));
        return list;
    }

    /// <summary>Error (squared error / d) against the number of in-context examples, per baseline name.</summary>
    public static IReadOnlyDictionary<string, double[]> Curves(RegressionBatch batch, IEnumerable<IRegressionBaseline> baselines)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(baselines);
        var curves = new Dictionary<string, double[]>();
        foreach (var b in baselines) curves[b.Name] = LinearRegressionTask.ErrorByPoints(batch, b.Predict(batch));
        return curves;
    }
}
