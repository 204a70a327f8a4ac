using Ssm.Kernels;
using Ssm.S4;

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

    /// <summary>
    /// The layer made by <paramref name="make"/> (same seed on every device) gives the same output, input gradient and
    /// parameter gradients for x [B, L, H] on the CPU and on both simulated ILGPU devices; with
    /// <paramref name="allocateState"/>, also the same first recurrent step.
    /// </summary>
    public static void CpuAndIlgpuAgree<TState>(Func<Device?, ConvolutionalSsmLayer<TState>> make, Tensor x, int seed,
        Func<ConvolutionalSsmLayer<TState>, int, TState>? allocateState = null) where TState : SsmLayerState
    {
        using var cpu = make(null);
        var xc = new Variable(x, requiresGrad: true);
        var yc = cpu.Forward(xc);
        var dy = new Rng(seed).Normal(yc.Data.Shape);
        yc.Backward(dy);
        foreach (var shape in new[] { "w4x4", "w2x8" })
        {
            var device = TestDevices.Get(shape);
            using var gpu = make(device);
            var xg = new Variable(x.To(device), requiresGrad: true);
            var yg = gpu.Forward(xg);
            Close.All(yc.Data.ToArray(), yg.Data.ToArray(), 1e-4, 1e-5, $"{shape} y");
            yg.Backward(dy.To(device));
            Close.All(xc.Grad!.ToArray(), xg.Grad!.ToArray(), 1e-4, 1e-5, $"{shape} dx");
            foreach (var ((name, pc), (_, pg)) in cpu.NamedParameters().Zip(gpu.NamedParameters()))
                CloseToScale(pc.Grad!.ToArray(), pg.Grad!.ToArray(), 1e-4, $"{shape} grad {name}");
            if (allocateState is null) continue;
            using var state = allocateState(gpu, x.Size(0));
            using var cpuState = allocateState(cpu, x.Size(0));
            Close.All(cpu.Step(cpuState, TimeStep(x, 0)).ToArray(), gpu.Step(state, TimeStep(x, 0).To(device)).ToArray(), 1e-4, 1e-5, $"{shape} step");
        }
    }
}
