using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Hybrid.Tests.Stacks;

public sealed class HybridPatternTests
{
    [Fact]
    public void PatternStringsParse()
    {
        var layers = HybridPattern.Parse("MMMAMMMA");
        Assert.Equal(8, layers.Count);
        Assert.Equal(new[] { 3, 7 }, Enumerable.Range(0, 8).Where(i => layers[i].Kind == HybridLayerKind.Attention));
        Assert.All(layers, l => Assert.Null(l.Mask));
        Assert.Equal("MMMA", HybridPattern.Format(HybridPattern.Parse("m m, m-A")));
        Assert.Equal(new[] { HybridLayerKind.Mamba, HybridLayerKind.S4D, HybridLayerKind.Attention }, HybridPattern.Parse("MsA").Select(l => l.Kind));
        Assert.Equal("MSA", HybridPattern.Format(HybridPattern.Parse("M S A")));
    }

    [Fact]
    public void JambaPeriodAndOffset()
    {
        Assert.Equal("MMMMAMMMMMMMAMMM", HybridPattern.Format(HybridPattern.Jamba(16, 8, 4)));
        Assert.Equal("AMAMA", HybridPattern.Format(HybridPattern.Jamba(5, 2, 0)));
        Assert.Equal("AAA", HybridPattern.Format(HybridPattern.Jamba(3, 1, 0)));
    }

    [Fact]
    public void MasFormerPutsFullAttentionInTheListedLayers()
    {
        var local = AttentionMask.SlidingWindow(64);
        var layers = HybridPattern.MasFormer(6, new[] { 0, 3 }, local);
        Assert.Equal("AAAAAA", HybridPattern.Format(layers));
        Assert.Equal(new AttentionMask?[] { AttentionMask.Causal, local, local, AttentionMask.Causal, local, local }, layers.Select(l => l.Mask));
        var block = HybridPattern.MasFormer(2, new[] { 1 }, AttentionMask.Block(16, causal: true));
        Assert.Equal(AttentionMask.Block(16, causal: true), block[0].Mask);
    }

    [Fact]
    public void BadPatternsAreClearErrors()
    {
        var e = Assert.Throws<ArgumentException>(() => HybridPattern.Parse("MMXA"));
        Assert.Contains("'X' at index 2", e.Message);
        Assert.Contains("'S' (S4D)", e.Message);
        Assert.Contains("no layers", Assert.Throws<ArgumentException>(() => HybridPattern.Parse("  ")).Message);
        Assert.Contains("attn_layer_offset", Assert.Throws<ArgumentOutOfRangeException>(() => HybridPattern.Jamba(8, 4, 4)).Message);
        Assert.Contains("attn_layer_period", Assert.Throws<ArgumentOutOfRangeException>(() => HybridPattern.Jamba(8, 0, 0)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => HybridPattern.Jamba(0, 2, 0));
        Assert.Contains("outside [0, 4)", Assert.Throws<ArgumentOutOfRangeException>(() => HybridPattern.MasFormer(4, new[] { 4 }, AttentionMask.SlidingWindow(8))).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => HybridPattern.MasFormer(4, new[] { 1, 1 }, AttentionMask.SlidingWindow(8))).Message);
        Assert.Throws<ArgumentException>(() => HybridPattern.MasFormer(4, new[] { 1 }, AttentionMask.Causal));
    }

    [Fact]
    public void ConfigsRejectInconsistentLayouts()
    {
        var good = HybridLMTests.Config("MAMA");
        good.Validate();
        Assert.Contains("no layers", Assert.Throws<ArgumentException>(() => (good with { Layers = Array.Empty<HybridLayerSpec>() }).Validate()).Message);
        Assert.Contains("Mamba d_model", Assert.Throws<ArgumentException>(() => (good with { Mamba = good.Mamba with { DModel = 4 } }).Validate()).Message);
        Assert.Contains("attention d_model", Assert.Throws<ArgumentException>(() => (good with { Attention = good.Attention with { DModel = 4 } }).Validate()).Message);
        var future = good with { Layers = new[] { new HybridLayerSpec(HybridLayerKind.Attention, AttentionMask.Full) } };
        Assert.Contains("layer 0", Assert.Throws<ArgumentException>(() => future.Validate()).Message);
        var masked = good with { Layers = new[] { new HybridLayerSpec(HybridLayerKind.Mamba, AttentionMask.Causal) } };
        Assert.Contains("Mamba-2 layer", Assert.Throws<ArgumentException>(() => masked.Validate()).Message);
        var maskedS4d = good with { Layers = new[] { new HybridLayerSpec(HybridLayerKind.S4D, AttentionMask.Causal) } };
        Assert.Contains("S4D layer", Assert.Throws<ArgumentException>(() => maskedS4d.Validate()).Message);
        var s4d = HybridLMTests.Config("MSA");
        s4d.Validate();
        Assert.Contains("batch-first and causal", Assert.Throws<ArgumentException>(() => (s4d with { S4D = s4d.S4D with { Transposed = true } }).Validate()).Message);
        Assert.Contains("batch-first and causal", Assert.Throws<ArgumentException>(() => (s4d with { S4D = s4d.S4D with { Bidirectional = true } }).Validate()).Message);
        Assert.Contains("S4D d_model", Assert.Throws<ArgumentException>(() => (s4d with { S4D = s4d.S4D with { DModel = 4 } }).Validate()).Message);
        // An attention-free layout needs no valid attention config, a Mamba-free one no valid Mamba config.
        (good with { Layers = HybridPattern.Parse("MM"), Attention = new AttentionConfig() }).Validate();
        (good with { Layers = HybridPattern.Parse("AA"), Mamba = new Mamba2Config() }).Validate();
        Assert.Throws<ArgumentException>(() => new HybridLM(future, new Rng(1), Device.Cpu));
    }
}
