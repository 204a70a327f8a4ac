using System.Text.Json.Nodes;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Hybrid.Tests.Stacks;

public sealed class HybridCheckpointTests
{
    private static string TempDir() => Path.Combine(Path.GetTempPath(), "ssm-hybrid-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("MAMA")]
    [InlineData("MAMA+mlp+conv")]
    [InlineData("masformer-mixed")]
    [InlineData("jamba-block")]
    [InlineData("landmark")]
    [InlineData("MSAS")]
    public void SaveAndLoadRoundTrip(string name)
    {
        var model = (HybridLM)HybridLMTests.Build(name);
        var config = HybridConfig.FromJson(model.Config.ToJson());
        Assert.Equal(model.Config.ToJson(), config.ToJson());
        Assert.Equal(model.Config.Pattern, config.Pattern);
        Assert.Equal(Enumerable.Range(0, config.NLayer).Select(i => config.Layers[i].Kind == HybridLayerKind.Attention ? config.LayerAttention(i).Mask : (AttentionMask?)null),
            Enumerable.Range(0, config.NLayer).Select(i => model.Config.Layers[i].Kind == HybridLayerKind.Attention ? model.Config.LayerAttention(i).Mask : (AttentionMask?)null));

        var dir = TempDir();
        try
        {
            model.Save(dir);
            var loaded = HybridLM.Load(dir, Device.Cpu);
            var ids = Tensor.From(new[] { 1, 5, 2, 7, 3, 3, 9, 0, 4 }, new[] { 1, 9 });
            using var noGrad = Autograd.NoGrad();
            model.Eval();
            Assert.Equal(model.Forward(ids).Data.ToArray(), loaded.Forward(ids).Data.ToArray());
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void PlainConfigsAreMambaSsmConfigs()
    {
        var json = JsonNode.Parse(((HybridLM)HybridLMTests.Build("MAMA")).Config.ToJson())!;
        Assert.Null(json["ssm"]); // nothing mamba_ssm's MambaConfig would reject
        Assert.Equal(new[] { 1, 3 }, json["attn_layer_idx"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.True(json["attn_cfg"]!["causal"]!.GetValue<bool>());
        Assert.Equal(1, json["attn_cfg"]!["num_heads_kv"]!.GetValue<int>());
        Assert.Equal("Mamba2", json["ssm_cfg"]!["layer"]!.GetValue<string>());
        var masformer = JsonNode.Parse(((HybridLM)HybridLMTests.Build("masformer-mixed")).Config.ToJson())!;
        Assert.Equal("sliding_window:3", masformer["ssm"]!["attn_layer_masks"]!["1"]!.GetValue<string>());
        Assert.Equal("lambda:1:3", masformer["ssm"]!["attn_layer_masks"]!["2"]!.GetValue<string>());
    }

    [Fact]
    public void MambaSsmCheckpointsLoad()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Data", "mamba2_tiny");
        var hybrid = HybridLM.Load(dir, Device.Cpu);
        var mamba = MambaLMHeadModel.Load(dir, Device.Cpu);
        Assert.Equal("MM", hybrid.Config.Pattern);
        var ids = Tensor.From(new[] { 5, 17, 3, 40, 2 }, new[] { 1, 5 });
        using var noGrad = Autograd.NoGrad();
        Assert.Equal(mamba.Forward(ids).Data.ToArray(), hybrid.Forward(ids).Data.ToArray());
    }

    [Fact]
    public void BadConfigsAreClearErrors()
    {
        string good = ((HybridLM)HybridLMTests.Build("MAMA")).Config.ToJson();
        JsonNode Mutate(Action<JsonNode> change)
        {
            var n = JsonNode.Parse(good)!;
            change(n);
            return n;
        }
        Assert.Contains("not valid JSON", Assert.Throws<ArgumentException>(() => HybridConfig.FromJson("{")).Message);
        Assert.Contains("d_model", Assert.Throws<ArgumentException>(() => HybridConfig.FromJson(Mutate(n => n.AsObject().Remove("d_model")).ToJsonString())).Message);
        Assert.Contains("outside [0, 4)", Assert.Throws<ArgumentException>(() =>
            HybridConfig.FromJson(Mutate(n => n["attn_layer_idx"] = new JsonArray(1, 4)).ToJsonString())).Message);
        Assert.Contains("causal", Assert.Throws<ArgumentException>(() =>
            HybridConfig.FromJson(Mutate(n => n["attn_cfg"]!["causal"] = false).ToJsonString())).Message);
        Assert.Contains("unknown mask", Assert.Throws<ArgumentException>(() =>
            HybridConfig.FromJson(Mutate(n => n["ssm"] = new JsonObject { ["attn_mask"] = "full" }).ToJsonString())).Message);
        Assert.Contains("Mamba1", Assert.Throws<ArgumentException>(() =>
            HybridConfig.FromJson(Mutate(n => n["ssm_cfg"]!["layer"] = "Mamba1").ToJsonString())).Message);
    }
}
