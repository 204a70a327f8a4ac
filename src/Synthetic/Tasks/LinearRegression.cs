using System.Globalization;
using System.Text;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// In-context linear regression (Garg, Tsipras, Liang, Valiant 2022; Raventós, Paul, Chen, Ganguli 2023):
//   w ~ N(0, I_D)                — or, with a task pool of size M (Raventós), w uniform over M vectors drawn once from
//                                  N(0, I_D) with PoolSeed; the test split then draws fresh w ~ N(0, I_D) (T_True)
//   x_k ~ N(0, I_d), zero beyond the active d ≤ D dimensions (Garg's curriculum truncates dimensions this way)
//   y_k = x_k·w + σ ε_k, ε_k ~ N(0, 1)
// Tokens (width D + 1): x-token [x_1..x_D, 0], y-token [y, 0, …, 0, 1] — Garg's [y, 0…0] plus a last coordinate that
// flags y-tokens; the sequence alternates x_1, y_1, x_2, y_2, … (2K tokens) and y_k is predicted at the x_k token
// (position 2k), seeing k earlier examples. Metric: squared error / d at each k (Garg's normalization; predicting 0
// scores ≈ 1 noiseless), reported as a curve over k.
// Curriculum (Garg): d = min(20, 5 + ⌊step/2000⌋), K = min(41, 11 + 2⌊step/2000⌋).

/// <summary>In-context regression options (Garg et al.'s defaults: D = 20, K = 41, noiseless, w ~ N(0, I)).</summary>
/// <param name="Dims">D: the token width is D + 1; batches may use fewer active dimensions.</param>
/// <param name="Points">K: examples per sequence (when a sample call does not give another count).</param>
/// <param name="NoiseStd">σ of the label noise.</param>
/// <param name="PoolSize">M: a finite task pool (Raventós et al.); null samples w ~ N(0, I) for every sequence.</param>
/// <param name="PoolSeed">Seed of the task pool.</param>
public sealed record RegressionOptions(int Dims = 20, int Points = 41, double NoiseStd = 0, int? PoolSize = null, long PoolSeed = 0)
{
    /// <summary>Raventós et al.'s task-diversity setting: D = 8, K = 16, σ² = 0.25, a pool of <paramref name="poolSize"/> tasks.</summary>
    public static RegressionOptions TaskDiversity(int poolSize, long poolSeed = 0) => new(8, 16, 0.5, poolSize, poolSeed);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Dims < 1) throw new ArgumentOutOfRangeException(nameof(Dims), Dims, "RegressionOptions: Dims must be at least 1.");
        if (Points < 1) throw new ArgumentOutOfRangeException(nameof(Points), Points, "RegressionOptions: Points must be at least 1.");
        if (!(NoiseStd >= 0) || double.IsInfinity(NoiseStd)) throw new ArgumentOutOfRangeException(nameof(NoiseStd), NoiseStd, "RegressionOptions: NoiseStd must be finite and non-negative.");
        if (PoolSize is < 1) throw new ArgumentOutOfRangeException(nameof(PoolSize), PoolSize, "RegressionOptions: PoolSize must be at least 1 (or null for no pool).");
    }
}

/// <summary>A value that grows in steps: min(End, Start + Increment·⌊step / Interval⌋) (Garg et al.'s curriculum).</summary>
public sealed record Curriculum(int Start, int End, int Increment, int Interval)
{
    /// <summary>A value that never changes.</summary>
    public static Curriculum Constant(int value) => new(value, value, 0, 1);

    /// <summary>The value at training step <paramref name="step"/>.</summary>
    public int ValueAt(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Curriculum.ValueAt: step must be non-negative.");
        if (Interval < 1) throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "Curriculum: Interval must be at least 1.");
        long v = Start + (long)Increment * (step / Interval);
        return (int)Math.Min(End, v);
    }
}

/// <summary>Curricula for active dimensions and number of examples.</summary>
public sealed record RegressionCurriculum(Curriculum Dims, Curriculum Points)
{
    /// <summary>Garg et al.: d from 5 to 20 (+1 every 2000 steps), K from 11 to 41 (+2 every 2000 steps).</summary>
    public static RegressionCurriculum Garg() => new(new Curriculum(5, 20, 1, 2000), new Curriculum(11, 41, 2, 2000));

    /// <summary>No curriculum: the options' D and K throughout.</summary>
    public static RegressionCurriculum Fixed(RegressionOptions options) => new(Curriculum.Constant(options.Dims), Curriculum.Constant(options.Points));
}

/// <summary>
/// A batch of regression sequences. <see cref="Xs"/> is [batch, points, dims], <see cref="Ys"/> (the targets) [batch,
/// points], <see cref="Weights"/> [batch, dims]; <see cref="Inputs"/> holds the tokens [batch, 2·points, dims + 1].
/// </summary>
public sealed record RegressionBatch(float[] Xs, float[] Ys, float[] Weights, int Batch, int Points, int Dims, int ActiveDims)
{
    /// <summary>Token width: D + 1 (the last coordinate flags y-tokens).</summary>
    public int TokenDim => Dims + 1;

    /// <summary>Tokens per sequence: 2·points.</summary>
    public int Length => 2 * Points;

    /// <summary>The targets: y, [batch, points].</summary>
    public float[] Targets => Ys;

    /// <summary>The input tokens [batch, 2·points, dims + 1]: x-tokens [x, 0], y-tokens [y, 0, …, 0, 1].</summary>
    public float[] Inputs { get; } = BuildTokens(Xs, Ys, Batch, Points, Dims);

    /// <summary>The token position whose output predicts y_k (the x_k token).</summary>
    public static int TargetPosition(int k) => 2 * k;

    private static float[] BuildTokens(float[] xs, float[] ys, int batch, int points, int dims)
    {
        int w = dims + 1;
        var t = new float[batch * 2 * points * w];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < points; k++)
            {
                int xt = ((b * points + k) * 2) * w, yt = xt + w;
                Array.Copy(xs, (b * points + k) * dims, t, xt, dims);
                t[yt] = ys[b * points + k];
                t[yt + dims] = 1;
            }
        return t;
    }
}

/// <summary>One regression sequence as written to JSON lines: x [points, dims] flattened, y [points], w [dims].</summary>
public sealed record RegressionExample(float[] X, float[] Y, float[] W, int Dims, int ActiveDims);

/// <summary>The in-context linear regression task (real-valued; its own batch type).</summary>
public sealed class LinearRegressionTask
{
    private readonly float[]? _pool;

    /// <summary>Creates the task (validates the options; draws the task pool if there is one).</summary>
    public LinearRegressionTask(RegressionOptions? options = null)
    {
        Options = options ?? new RegressionOptions();
        Options.Validate();
        if (Options.PoolSize is int m)
        {
            _pool = new float[m * Options.Dims];
            new Rng(Options.PoolSeed).FillNormal(_pool);
        }
    }

    /// <summary>The options.</summary>
    public RegressionOptions Options { get; }

    /// <summary>Name.</summary>
    public string Name => "regression";

    /// <summary>The task pool [M, D] (null without one).</summary>
    public float[]? Pool => _pool is null ? null : (float[])_pool.Clone();

    /// <summary>
    /// Draws <paramref name="batch"/> sequences of <paramref name="points"/> examples (default: the options' K) over
    /// <paramref name="activeDims"/> of the D dimensions (default: all). With a task pool, the train split draws w from
    /// the pool and the test split from N(0, I).
    /// </summary>
    public RegressionBatch Sample(Rng rng, int batch, DataSplit split = DataSplit.Train, int? points = null, int? activeDims = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        int k = points ?? Options.Points, d = activeDims ?? Options.Dims, dims = Options.Dims;
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "regression.Sample: batch must be at least 1.");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(points), k, "regression.Sample: points must be at least 1.");
        if (d < 1 || d > dims) throw new ArgumentOutOfRangeException(nameof(activeDims), d, $"regression.Sample: activeDims must be in 1..{dims} (Dims).");
        var xs = new float[batch * k * dims];
        var ys = new float[batch * k];
        var ws = new float[batch * dims];
        for (int b = 0; b < batch; b++)
        {
            var w = ws.AsSpan(b * dims, dims);
            if (_pool is not null && split == DataSplit.Train) _pool.AsSpan(rng.Next(Options.PoolSize!.Value) * dims, dims).CopyTo(w);
            else rng.FillNormal(w);
            for (int i = 0; i < k; i++)
            {
                var x = xs.AsSpan((b * k + i) * dims, dims);
                rng.FillNormal(x[..d]);
                double y = 0;
                for (int j = 0; j < d; j++) y += (double)x[j] * w[j];
                if (Options.NoiseStd > 0) y += Options.NoiseStd * rng.Normal();
                ys[b * k + i] = (float)y;
            }
        }
        return new RegressionBatch(xs, ys, ws, batch, k, dims, d);
    }

    /// <summary>Draws a batch with the active dimensions and number of examples of <paramref name="curriculum"/> at <paramref name="step"/>.</summary>
    public RegressionBatch Sample(Rng rng, int batch, RegressionCurriculum curriculum, long step, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(curriculum);
        return Sample(rng, batch, split, curriculum.Points.ValueAt(step), curriculum.Dims.ValueAt(step));
    }

    /// <summary>
    /// The metric: squared error / active dims at each number of in-context examples k = 0..K−1, averaged over the batch.
    /// <paramref name="predictions"/> is [batch, points] (the outputs read at the x-token positions).
    /// </summary>
    public static double[] ErrorByPoints(RegressionBatch batch, float[] predictions)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(predictions);
        if (predictions.Length != batch.Batch * batch.Points)
            throw new ArgumentException($"regression.ErrorByPoints: predictions has {predictions.Length} entries, expected [batch, points] = [{batch.Batch}, {batch.Points}].", nameof(predictions));
        var err = new double[batch.Points];
        for (int b = 0; b < batch.Batch; b++)
            for (int k = 0; k < batch.Points; k++)
            {
                double e = (double)predictions[b * batch.Points + k] - batch.Ys[b * batch.Points + k];
                err[k] += e * e;
            }
        for (int k = 0; k < err.Length; k++) err[k] /= (double)batch.Batch * batch.ActiveDims;
        return err;
    }

    /// <summary>The batch's rows as example records.</summary>
    public static IReadOnlyList<RegressionExample> Examples(RegressionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int k = batch.Points, d = batch.Dims;
        return Enumerable.Range(0, batch.Batch).Select(b => new RegressionExample(
            batch.Xs.AsSpan(b * k * d, k * d).ToArray(), batch.Ys.AsSpan(b * k, k).ToArray(), batch.Weights.AsSpan(b * d, d).ToArray(),
            d, batch.ActiveDims)).ToArray();
    }

    /// <summary>Stacks example records (all of one shape) into a batch.</summary>
    public static RegressionBatch Collate(IReadOnlyList<RegressionExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("regression.Collate: no examples.", nameof(examples));
        var first = examples[0];
        int d = first.Dims, k = first.Y.Length, a = first.ActiveDims;
        var xs = new float[examples.Count * k * d];
        var ys = new float[examples.Count * k];
        var ws = new float[examples.Count * d];
        for (int b = 0; b < examples.Count; b++)
        {
            var e = examples[b];
            if (e.Dims != d || e.ActiveDims != a || e.Y.Length != k || e.X.Length != k * d || e.W.Length != d)
                throw new ArgumentException($"regression.Collate: example {b} has a different shape from example 0 (dims {d}, active {a}, points {k}).", nameof(examples));
            e.X.CopyTo(xs, b * k * d);
            e.Y.CopyTo(ys, b * k);
            e.W.CopyTo(ws, b * d);
        }
        return new RegressionBatch(xs, ys, ws, examples.Count, k, d, a);
    }

    /// <summary>Writes the batch as JSON lines (one sequence per line).</summary>
    public static void WriteJsonLines(string path, RegressionBatch batch) => TaskData.Write(path, Examples(batch));

    /// <summary>Reads a batch written by <see cref="WriteJsonLines"/>.</summary>
    public static RegressionBatch ReadJsonLines(string path) => Collate(TaskData.Read<RegressionExample>(path));

    /// <summary>Row <paramref name="index"/> human-readably (w and the first examples).</summary>
    public static string Describe(RegressionBatch batch, int index, int maxPoints = 5)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if ((uint)index >= (uint)batch.Batch) throw new ArgumentOutOfRangeException(nameof(index));
        static string Vec(ReadOnlySpan<float> v) => "[" + string.Join(", ", v.ToArray().Select(f => f.ToString("F3", CultureInfo.InvariantCulture))) + "]";
        int d = batch.Dims, a = batch.ActiveDims, k = batch.Points;
        var sb = new StringBuilder();
        sb.Append($"regression (D={d}, active d={a}, K={k}, token width {batch.TokenDim})\nw = {Vec(batch.Weights.AsSpan(index * d, a))}\n");
        for (int i = 0; i < Math.Min(k, maxPoints); i++)
            sb.Append($"x_{i} = {Vec(batch.Xs.AsSpan((index * k + i) * d, a))}  y_{i} = {batch.Ys[index * k + i].ToString("F4", CultureInfo.InvariantCulture)}\n");
        if (k > maxPoints) sb.Append($"… {k - maxPoints} more\n");
        return sb.ToString();
    }
}
