using Ssm.Kernels;

namespace Ssm.Tests.S4;

internal static class S4TestSupport
{
    public static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    /// <summary>|a − e| ≤ rtol·max|e| element by element (a tolerance relative to the tensor's scale).</summary>
    public static void CloseToScale(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, string what)
    {
        double scale = 0;
        foreach (var e in expected) scale = Math.Max(scale, Math.Abs(e));
        Close.All(expected, actual, 0, rtol * scale, what);
    }

    /// <summary>x[:, t] of x [B, L, H] as [B, H].</summary>
    public static Tensor TimeStep(Tensor x, int t) => Layout.Narrow(x, 1, t, 1).Reshape(x.Size(0), x.Size(2));

    /// <summary>Stacks per-step outputs [B, H] into [B, L, H].</summary>
    public static float[] StackSteps(IReadOnlyList<Tensor> steps)
    {
        int b = steps[0].Size(0), h = steps[0].Size(1), l = steps.Count;
        var y = new float[b * l * h];
        for (int t = 0; t < l; t++)
        {
            var s = steps[t].ToArray();
            for (int i = 0; i < b; i++)
                for (int c = 0; c < h; c++) y[(i * l + t) * h + c] = s[i * h + c];
        }
        return y;
    }
}
