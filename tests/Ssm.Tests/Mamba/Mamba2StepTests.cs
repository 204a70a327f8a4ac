using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Tests.Mamba;

/// <summary>The recurrent <see cref="Mamba2.Step"/> (fused SSD step kernel) gives the same outputs and states on ILGPU as on the CPU.</summary>
[Collection("ilgpu")]
public sealed class Mamba2StepTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void IlgpuStepMatchesCpuStep(int groups)
    {
        var config = new Mamba2Config { DModel = 8, DState = 6, HeadDim = 4, Expand = 2, NGroups = groups, DConv = 3, ChunkSize = 4 };
        var dev = TestDevices.Get("w4x4");
        var cpu = new Mamba2(config, new Rng(3), Device.Cpu);
        var gpu = new Mamba2(config, new Rng(3), dev);
        var u = new Rng(4).Normal(new[] { 2, 5, 8 });
        using var cpuState = cpu.AllocateState(2);
        using var gpuState = gpu.AllocateState(2);
        for (int t = 0; t < 5; t++)
        {
            using var scope = TensorScope.Begin();
            var xt = Layout.Narrow(u, 1, t, 1).Reshape(2, 8);
            Close.All(cpu.Step(cpuState, xt), gpu.Step(gpuState, xt.To(dev)), 1e-4, 1e-5, $"output at step {t}");
        }
        Close.All(cpuState.SsmState, gpuState.SsmState, 1e-4, 1e-5, "ssm state");
        Close.All(cpuState.ConvState, gpuState.ConvState, 1e-5, 1e-6, "conv state");
    }
}
