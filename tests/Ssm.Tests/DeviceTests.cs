using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Tests;

/// <summary>Modules, initializers and optimizers on an ILGPU device (the CPU accelerator) against the CPU backend.</summary>
[Collection("ilgpu")]
public sealed class DeviceTests
{
    private static readonly Device Gpu = Device.IlgpuCpu;

    [Fact]
    public void ModuleParametersAndBuffersMoveAndLoadAcrossDevices()
    {
        var leaf = new ModuleTests.Leafy(3, 4);
        var weight = leaf.Weight.Data.ToArray();
        leaf.To(Gpu);
        Assert.Equal(Gpu, leaf.Weight.Device);
        Assert.Equal(Gpu, leaf.Running.Device);
        Assert.Equal(Gpu, leaf.Cache.Device);
        Assert.Equal(weight, leaf.Weight.Data.ToArray());
        leaf.LoadStateDict(new ModuleTests.Leafy(3, 9).StateDict()); // CPU values into ILGPU tensors
        Assert.Equal(new ModuleTests.Leafy(3, 9).Weight.Data.ToArray(), leaf.Weight.Data.ToArray());
        leaf.To(Device.Cpu);
        Assert.Equal(Device.Cpu, leaf.Running.Device);
    }

    [Fact]
    public void InitializersGiveTheSameValuesOnEveryDevice()
    {
        var g = Init.Normal(Tensor.Empty(new[] { 50 }, DType.Float32, Gpu), new Rng(7)).ToArray();
        Assert.Equal(Init.Normal(Tensor.Empty(new[] { 50 }), new Rng(7)).ToArray(), g);
    }

    [Fact]
    public void AdamWClippingAndDropoutOnIlgpuMatchCpu()
    {
        Parameter Make(Device d) => new(Tensor.From(new Rng(1).Normal(new[] { 40 }).ToArray(), new[] { 40 }, d));
        var (cpu, gpu) = (Make(Device.Cpu), Make(Gpu));
        var (oc, og) = (new AdamW(new[] { cpu }, lr: 0.01), new AdamW(new[] { gpu }, lr: 0.01));
        for (int t = 0; t < 3; t++)
        {
            var g = new Rng(10 + t).Normal(new[] { 40 }, std: 2).ToArray();
            cpu.Grad = Tensor.From(g, new[] { 40 }, Device.Cpu).DetachFromScope();
            gpu.Grad = Tensor.From(g, new[] { 40 }, Gpu).DetachFromScope();
            double nc = GradClip.ClipGradNorm(new[] { cpu }, 1.0), ng = GradClip.ClipGradNorm(new[] { gpu }, 1.0);
            Assert.Equal(nc, ng, nc * 1e-6);
            oc.Step();
            og.Step();
        }
        var (a, b) = (cpu.Data.ToArray(), gpu.Data.ToArray());
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-6);

        // Dropout through F on ILGPU: the same mask as on the CPU.
        var x = new Rng(3).Normal(new[] { 300 }).ToArray();
        var yc = F.Dropout(new Variable(Tensor.From(x, new[] { 300 }, Device.Cpu)), 0.3f, true, new Rng(5)).Data.ToArray();
        var yg = F.Dropout(new Variable(Tensor.From(x, new[] { 300 }, Gpu)), 0.3f, true, new Rng(5)).Data.ToArray();
        Assert.Equal(yc, yg);
    }
}
