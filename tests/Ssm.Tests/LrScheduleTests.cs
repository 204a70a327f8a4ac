using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Tests;

public sealed class LrScheduleTests
{
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(5, 0.5)]      // linear warm-up
    [InlineData(10, 1.0)]     // peak
    [InlineData(60, 0.55)]    // half way: 0.1 + 0.9·½(1 + cos π/2)
    [InlineData(110, 0.1)]    // end: the floor
    [InlineData(500, 0.1)]    // held after the end
    public void CosineWithWarmupAtKeySteps(int step, double expected)
        => Assert.Equal(expected, new CosineWithWarmup(10, 110, 0.1).Multiplier(step), 12);

    [Fact]
    public void CosineQuarterPointAndNoWarmup()
    {
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI / 4)), new CosineWithWarmup(10, 110, 0.1).Multiplier(35), 12);
        Assert.Equal(1.0, new CosineWithWarmup(0, 100).Multiplier(0), 12);
        Assert.Equal(0.0, new CosineWithWarmup(0, 100).Multiplier(100), 12);
    }

    [Theory]
    [InlineData(WsdDecay.Linear, 0, 0.0)]
    [InlineData(WsdDecay.Linear, 4, 0.4)]
    [InlineData(WsdDecay.Linear, 10, 1.0)]
    [InlineData(WsdDecay.Linear, 59, 1.0)]   // last stable step
    [InlineData(WsdDecay.Linear, 60, 1.0)]   // decay starts at progress 0
    [InlineData(WsdDecay.Linear, 70, 0.55)]  // 0.1 + 0.9·(1 − ½)
    [InlineData(WsdDecay.Linear, 80, 0.1)]
    [InlineData(WsdDecay.Linear, 1000, 0.1)]
    [InlineData(WsdDecay.Cosine, 70, 0.55)]  // ½(1 + cos π/2) = ½
    [InlineData(WsdDecay.Cosine, 75, 0.1 + 0.9 * 0.14644660940672627)] // ½(1 + cos 3π/4)
    [InlineData(WsdDecay.OneMinusSqrt, 65, 0.55)] // 1 − √¼ = ½
    public void WsdAtKeySteps(WsdDecay decay, int step, double expected)
        => Assert.Equal(expected, new Wsd(10, 50, 20, 0.1, decay).Multiplier(step), 12);

    [Fact]
    public void SchedulerScalesEachGroupsBaseLrAndResumes()
    {
        var opt = new Optim.SGD(new[]
        {
            new ParamGroup(new[] { new Parameter(Tensor.Zeros(new[] { 1 })) }) { Lr = 0.2 },
            new ParamGroup(new[] { new Parameter(Tensor.Zeros(new[] { 1 })) }) { Lr = 0.01 },
        });
        var schedule = new Wsd(4, 2, 4, 0.5);
        var s = new LrScheduler(opt, schedule);
        Assert.Equal(new[] { 0.2, 0.01 }, s.BaseLrs);
        Assert.Equal(new[] { 0.0, 0.0 }, opt.Groups.Select(g => g.Lr)); // step 0 of the warm-up
        for (int k = 1; k <= 8; k++)
        {
            s.Step();
            Assert.Equal(k, s.LastStep);
            Assert.Equal(0.2 * schedule.Multiplier(k), opt.Groups[0].Lr, 15);
            Assert.Equal(0.01 * schedule.Multiplier(k), opt.Groups[1].Lr, 15);
        }
        var saved = s.StateDict();
        var resumed = new LrScheduler(opt, schedule); // takes the scheduled lrs as base…
        resumed.LoadStateDict(saved);                  // …until the saved base lrs are restored
        Assert.Equal(new[] { 0.2, 0.01 }, resumed.BaseLrs);
        Assert.Equal(8, resumed.LastStep);
        Assert.Equal(0.2 * schedule.Multiplier(8), opt.Groups[0].Lr, 15);
        Assert.Contains("expected 2 numbers", Assert.Throws<ArgumentException>(() =>
            resumed.LoadStateDict(new Dictionary<string, string> { ["last_step"] = "3", ["base_lrs"] = "0.1" })).Message);
    }

    [Fact]
    public void InvalidScheduleArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineWithWarmup(10, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineWithWarmup(1, 5, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Wsd(-1, 5, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Wsd(1, 5, 5, -0.1));
    }
}
