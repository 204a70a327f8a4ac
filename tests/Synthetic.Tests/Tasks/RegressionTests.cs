using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class RegressionTests
{
    // (A)⁻¹b by Gaussian elimination with partial pivoting, in double (independent of MathNet).
    private static double[] Solve(double[,] a, double[] b)
    {
        int n = b.Length;
        var m = (double[,])a.Clone();
        var v = (double[])b.Clone();
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(m[r, c]) > Math.Abs(m[p, c])) p = r;
            for (int j = 0; j < n; j++) (m[c, j], m[p, j]) = (m[p, j], m[c, j]);
            (v[c], v[p]) = (v[p], v[c]);
            for (int r = c + 1; r < n; r++)
            {
                double f = m[r, c] / m[c, c];
                for (int j = c; j < n; j++) m[r, j] -= f * m[c, j];
                v[r] -= f * v[c];
            }
        }
        var x = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = v[r];
            for (int j = r + 1; j < n; j++) s -= m[r, j] * x[j];
            x[r] = s / m[r, r];
        }
        return x;
    }

    private static double X(RegressionBatch b, int row, int k, int j) => b.Xs[(row * b.Points + k) * b.Dims + j];

    [Fact]
    public void SamplesAreDeterministicAndLabelsAreLinear()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 6, Points: 10));
        var a = task.Sample(new Rng(1), 4);
        var b = task.Sample(new Rng(1), 4);
        var c = task.Sample(new Rng(2), 4);
        Assert.Equal(a.Xs, b.Xs);
        Assert.Equal(a.Ys, b.Ys);
        Assert.Equal(a.Weights, b.Weights);
        Assert.NotEqual(a.Xs, c.Xs);
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 10; k++)
            {
                double y = 0;
                for (int j = 0; j < 6; j++) y += X(a, r, k, j) * a.Weights[r * 6 + j];
                Assert.Equal(y, a.Ys[r * 10 + k], 4);
            }
    }

    [Fact]
    public void TokensAlternateXAndFlaggedY()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 5, Points: 3));
        var batch = task.Sample(new Rng(4), 2, activeDims: 3);
        Assert.Equal(6, batch.TokenDim);
        Assert.Equal(2 * 6 * 6, batch.Inputs.Length);
        for (int r = 0; r < 2; r++)
            for (int k = 0; k < 3; k++)
            {
                var xt = batch.Inputs.AsSpan(((r * 6) + RegressionBatch.TargetPosition(k)) * 6, 6);
                var yt = batch.Inputs.AsSpan(((r * 6) + RegressionBatch.TargetPosition(k) + 1) * 6, 6);
                for (int j = 0; j < 3; j++) Assert.Equal((float)X(batch, r, k, j), xt[j]);
                Assert.Equal(0f, xt[3]); // beyond the active dims
                Assert.Equal(0f, xt[5]); // x-token flag
                Assert.Equal(batch.Ys[r * 3 + k], yt[0]);
                Assert.Equal(new[] { 0f, 0f, 0f, 0f, 1f }, yt[1..].ToArray());
            }
    }

    [Fact]
    public void LeastSquaresRecoversWWithEnoughNoiselessExamples()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 8, Points: 14));
        var batch = task.Sample(new Rng(3), 6);
        var pred = new LeastSquaresBaseline().Predict(batch);
        var err = LinearRegressionTask.ErrorByPoints(batch, pred);
        for (int k = 8; k < 14; k++) Assert.True(err[k] < 1e-8, $"k={k}: error {err[k]}");
        Assert.True(err[4] > 0.1); // underdetermined: min-norm cannot know w yet
        Assert.Equal(0f, pred[0]);
    }

    [Fact]
    public void LeastSquaresIsMinimumNormWhenUnderdetermined()
    {
        // One example in 2-D: min-norm ŵ = y x / |x|², so the prediction at x' is y (x·x') / |x|².
        var xs = new float[] { 1, 2, 3, -1 };
        var ys = new float[] { 5, 0 };
        var batch = new RegressionBatch(xs, ys, new float[2], 1, 2, 2, 2);
        var pred = new LeastSquaresBaseline().Predict(batch);
        Assert.Equal(5.0 * (1 * 3 + 2 * -1) / 5.0, pred[1], 5);
    }

    [Fact]
    public void RidgeEqualsTheClosedForm()
    {
        const double lambda = 0.25;
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 5, Points: 9, NoiseStd: 0.5));
        var batch = task.Sample(new Rng(6), 3, activeDims: 4);
        var pred = new RidgeBaseline(lambda).Predict(batch);
        for (int r = 0; r < 3; r++)
            for (int k = 1; k < 9; k++)
            {
                int d = 4;
                var a = new double[d, d];
                var rhs = new double[d];
                for (int i = 0; i < k; i++)
                    for (int p = 0; p < d; p++)
                    {
                        rhs[p] += X(batch, r, i, p) * batch.Ys[r * 9 + i];
                        for (int q = 0; q < d; q++) a[p, q] += X(batch, r, i, p) * X(batch, r, i, q);
                    }
                for (int p = 0; p < d; p++) a[p, p] += lambda;
                var w = Solve(a, rhs);
                double expected = 0;
                for (int p = 0; p < d; p++) expected += w[p] * X(batch, r, k, p);
                Assert.Equal(expected, pred[r * 9 + k], 4);
            }
    }

    [Fact]
    public void AveragingAndNearestNeighboursMatchTheirDefinitions()
    {
        // 1-D: x = 1, 2, 4, 3; y = 2x.
        var xs = new float[] { 1, 2, 4, 3 };
        var ys = new float[] { 2, 4, 8, 6 };
        var batch = new RegressionBatch(xs, ys, new float[] { 2 }, 1, 4, 1, 1);
        var avg = new AveragingBaseline().Predict(batch);
        Assert.Equal(new[] { 0f, 2f * 2, 4f * (2 + 8) / 2, 3f * (2 + 8 + 32) / 3 }, avg);
        var nn = new NearestNeighboursBaseline(3).Predict(batch);
        Assert.Equal(0f, nn[0]);
        Assert.Equal(2f, nn[1]);                 // only x=1
        Assert.Equal(3f, nn[2]);                 // mean of y(1), y(2)
        Assert.Equal((4f + 8f + 2f) / 3, nn[3]); // nearest to 3: 2, 4, then 1
        var nn1 = new NearestNeighboursBaseline(1).Predict(batch);
        Assert.Equal(4f, nn1[2]);                // nearest to 4 is 2
    }

    [Fact]
    public void DiscreteMmseOverOneTaskPredictsWithThatTask()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 4, Points: 6, NoiseStd: 0.5, PoolSize: 1, PoolSeed: 3));
        var pool = task.Pool!;
        var batch = task.Sample(new Rng(1), 3, DataSplit.Test);
        var pred = new DiscreteMmseBaseline(pool, 4, 0.5).Predict(batch);
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 6; k++)
            {
                double expected = 0;
                for (int j = 0; j < 4; j++) expected += X(batch, r, k, j) * pool[j];
                Assert.Equal(expected, pred[r * 6 + k], 5);
            }
    }

    [Fact]
    public void DiscreteMmseIsThePosteriorMean()
    {
        // Two 1-D tasks w = 1 and w = −1, σ = 1; one example (x=1, y=0.5), query x=2.
        // Likelihoods exp(−(0.5−1)²/2) and exp(−(0.5+1)²/2); prediction 2·(p₁ − p₂).
        var mmse = new DiscreteMmseBaseline(new float[] { 1, -1 }, 1, 1.0);
        var batch = new RegressionBatch(new float[] { 1, 2 }, new float[] { 0.5f, 0 }, new float[1], 1, 2, 1, 1);
        var pred = mmse.Predict(batch);
        double l1 = Math.Exp(-0.125), l2 = Math.Exp(-1.125);
        Assert.Equal(0, pred[0], 6); // prior mean
        Assert.Equal(2 * (l1 - l2) / (l1 + l2), pred[1], 5);
        // Noiseless: the consistent task only.
        var exact = new DiscreteMmseBaseline(new float[] { 1, -1 }, 1, 0).Predict(
            new RegressionBatch(new float[] { 1, 2 }, new float[] { -1, 0 }, new float[1], 1, 2, 1, 1));
        Assert.Equal(-2f, exact[1]);
    }

    [Fact]
    public void PoolTasksAreUsedForTrainAndFreshTasksForTest()
    {
        var task = new LinearRegressionTask(RegressionOptions.TaskDiversity(poolSize: 4, poolSeed: 2));
        Assert.Equal(8, task.Options.Dims);
        Assert.Equal(16, task.Options.Points);
        var pool = task.Pool!;
        var poolRows = Enumerable.Range(0, 4).Select(m => string.Join(',', pool.AsSpan(m * 8, 8).ToArray())).ToHashSet();
        var train = task.Sample(new Rng(1), 20);
        var test = task.Sample(new Rng(1), 20, DataSplit.Test);
        for (int r = 0; r < 20; r++)
        {
            Assert.Contains(string.Join(',', train.Weights.AsSpan(r * 8, 8).ToArray()), poolRows);
            Assert.DoesNotContain(string.Join(',', test.Weights.AsSpan(r * 8, 8).ToArray()), poolRows);
        }
        // dMMSE beats ridge on the pool's own tasks once a few examples are in; ridge wins on fresh tasks.
        var curvesTrain = RegressionBaselines.Curves(task.Sample(new Rng(5), 64), RegressionBaselines.Standard(task));
        var curvesTest = RegressionBaselines.Curves(task.Sample(new Rng(5), 64, DataSplit.Test), RegressionBaselines.Standard(task));
        Assert.Equal(new[] { "least_squares", "ridge", "3-nn", "averaging", "dmmse" }, curvesTrain.Keys);
        Assert.True(curvesTrain["dmmse"][8] < curvesTrain["ridge"][8]);
        Assert.True(curvesTest["ridge"][12] < curvesTest["dmmse"][12]);
    }

    [Fact]
    public void ErrorIsNormalizedByActiveDims()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 10, Points: 50));
        var batch = task.Sample(new Rng(8), 256, activeDims: 5);
        var zero = LinearRegressionTask.ErrorByPoints(batch, new float[batch.Batch * batch.Points]);
        // E[y²] = |w|² over the active dims, ≈ d: the zero predictor scores ≈ 1.
        Assert.InRange(zero.Average(), 0.8, 1.2);
        Assert.Throws<ArgumentException>(() => LinearRegressionTask.ErrorByPoints(batch, new float[3]));
    }

    [Fact]
    public void CurriculumFollowsGarg()
    {
        var c = RegressionCurriculum.Garg();
        Assert.Equal((5, 11), (c.Dims.ValueAt(0), c.Points.ValueAt(0)));
        Assert.Equal((5, 11), (c.Dims.ValueAt(1999), c.Points.ValueAt(1999)));
        Assert.Equal((6, 13), (c.Dims.ValueAt(2000), c.Points.ValueAt(2000)));
        Assert.Equal((20, 41), (c.Dims.ValueAt(30_000), c.Points.ValueAt(30_000)));
        Assert.Equal((20, 41), (c.Dims.ValueAt(1_000_000), c.Points.ValueAt(1_000_000)));
        var task = new LinearRegressionTask();
        var batch = task.Sample(new Rng(0), 2, c, 4000);
        Assert.Equal((7, 15, 20), (batch.ActiveDims, batch.Points, batch.Dims));
        Assert.All(Enumerable.Range(0, 2 * 15).SelectMany(i => batch.Xs.AsSpan(i * 20 + 7, 13).ToArray()), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void JsonLinesRoundTripIdentically()
    {
        var task = new LinearRegressionTask(new RegressionOptions(Dims: 4, Points: 5, NoiseStd: 0.1));
        var batch = task.Sample(new Rng(12), 3, activeDims: 3);
        var path = TaskFixtures.TempFile("jsonl");
        try
        {
            LinearRegressionTask.WriteJsonLines(path, batch);
            var back = LinearRegressionTask.ReadJsonLines(path);
            Assert.Equal(batch.Xs, back.Xs);
            Assert.Equal(batch.Ys, back.Ys);
            Assert.Equal(batch.Weights, back.Weights);
            Assert.Equal(batch.Inputs, back.Inputs);
            Assert.Equal((batch.Batch, batch.Points, batch.Dims, batch.ActiveDims), (back.Batch, back.Points, back.Dims, back.ActiveDims));
            Assert.Contains("active d=3", LinearRegressionTask.Describe(back, 0));
        }
        finally { File.Delete(path); }
    }
}
