using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Tests.Mamba;

/// <summary>The tiny mamba_ssm model in tests/Data/mamba2_tiny reproduces PyTorch's logits in both forms.</summary>
public sealed class MambaReferenceTests
{
    internal static string TinyDir => Path.Combine(AppContext.BaseDirectory, "Data", "mamba2_tiny");

    private static (Tensor ids, float[] logits, int[] shape) Expected()
    {
        using var f = SafeTensorsFile.Open(Path.Combine(TinyDir, "expected.safetensors"));
        var ids = f.Read("input_ids", Device.Cpu).DetachFromScope();
        return (ids, f.ReadFloats("logits"), f.Info("logits").Shape);
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(expected[i] - actual[i]) - (1e-4 * Math.Abs(expected[i]) + 1e-4);
            if (err > worst) { worst = err; at = i; }
        }
        Assert.True(at < 0, $"{what}: element {at} is {(at >= 0 ? actual[at] : 0)}, expected {(at >= 0 ? expected[at] : 0)}");
    }

    [Fact]
    public void ParallelFormReproducesReferenceLogits()
    {
        var (ids, logits, shape) = Expected();
        var model = MambaLMHeadModel.Load(TinyDir, Device.Cpu);
        Assert.Equal(96, model.VocabSize);
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        var y = model.Forward(ids).Data;
        Assert.Equal(shape, y.ShapeArray());
        AssertClose(logits, y.ToArray(), "parallel logits");
    }

    [Fact]
    public void RecurrentStepReproducesReferenceLogits()
    {
        var (ids, logits, shape) = Expected();
        var model = MambaLMHeadModel.Load(TinyDir, Device.Cpu);
        int batch = shape[0], length = shape[1], vocab = shape[2];
        var host = ids.ToInt64Array();
        var got = new float[logits.Length];
        using var cache = model.AllocateCache(batch);
        for (int t = 0; t < length; t++)
        {
            using var scope = TensorScope.Begin();
            var step = new long[batch];
            for (int b = 0; b < batch; b++) step[b] = host[b * length + t];
            var row = model.Step(cache, Tensor.From(step, new[] { batch })).ToArray();
            for (int b = 0; b < batch; b++) Array.Copy(row, b * vocab, got, (b * length + t) * vocab, vocab);
        }
        Assert.Equal(length, cache.Position);
        AssertClose(logits, got, "step logits");
    }

    [Fact]
    public void SaveThenLoadGivesTheSameModelAndFile()
    {
        var model = MambaLMHeadModel.Load(TinyDir, Device.Cpu);
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-mamba-{Guid.NewGuid():N}");
        model.Save(dir);
        var back = MambaLMHeadModel.Load(dir, Device.Cpu);
        var a = model.StateDict();
        var b = back.StateDict();
        Assert.Equal(a.Keys, b.Keys);
        foreach (var (k, v) in a) Assert.Equal(v.ToArray(), b[k].ToArray());
        using (var f = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            Assert.DoesNotContain("lm_head.weight", f.Names);   // tied, as mamba_ssm writes it
            Assert.Contains("backbone.layers.1.mixer.A_log", f.Names);
        }
        Assert.Equal(MambaLMConfig.FromJson(File.ReadAllText(Path.Combine(TinyDir, "config.json"))),
                     MambaLMConfig.FromJson(File.ReadAllText(Path.Combine(dir, "config.json"))));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ATiedLmHeadIsAcceptedOnlyWhenEqualToTheEmbedding()
    {
        var dir = CopyTiny();
        var path = Path.Combine(dir, "model.safetensors");
        Dictionary<string, Tensor> state;
        using (var f = SafeTensorsFile.Open(path)) state = f.ReadAll(Device.Cpu);
        state["lm_head.weight"] = state["backbone.embedding.weight"].Clone();
        SafeTensors.Save(path, state);
        MambaLMHeadModel.Load(dir, Device.Cpu);  // pytorch-style names with lm_head.weight present
        state["lm_head.weight"] = Elementwise.Scale(state["lm_head.weight"], 2f);
        SafeTensors.Save(path, state);
        Assert.Contains("lm_head.weight differs", Assert.Throws<SafeTensorsFormatException>(() => MambaLMHeadModel.Load(dir, Device.Cpu)).Message);
        Directory.Delete(dir, true);
    }

    internal static string CopyTiny()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-tiny-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        foreach (var f in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(TinyDir, f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void BadCheckpointsAreRefusedClearly()
    {
        // Missing tensor and wrong shape.
        var dir = CopyTiny();
        var path = Path.Combine(dir, "model.safetensors");
        Dictionary<string, Tensor> state;
        using (var f = SafeTensorsFile.Open(path)) state = f.ReadAll(Device.Cpu);
        var dropped = new Dictionary<string, Tensor>(state);
        dropped.Remove("backbone.layers.1.mixer.D");
        SafeTensors.Save(path, dropped);
        var e = Assert.Throws<SafeTensorsFormatException>(() => MambaLMHeadModel.Load(dir, Device.Cpu));
        Assert.Contains("backbone.layers.1.mixer.D", e.Message);
        Assert.Contains("missing", e.Message);
        var misshaped = new Dictionary<string, Tensor>(state) { ["backbone.norm_f.weight"] = Tensor.Ones(new[] { 63 }) };
        SafeTensors.Save(path, misshaped);
        e = Assert.Throws<SafeTensorsFormatException>(() => MambaLMHeadModel.Load(dir, Device.Cpu));
        Assert.Contains("backbone.norm_f.weight", e.Message);
        Assert.Contains("[63]", e.Message);

        // Inconsistent configs.
        var json = File.ReadAllText(Path.Combine(TinyDir, "config.json"));
        var ex = Assert.Throws<ArgumentException>(() => MambaLMConfig.FromJson(json.Replace("\"headdim\": 16", "\"headdim\": 24")));
        Assert.Contains("divisible by headdim 24", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MambaLMConfig.FromJson(json.Replace("\"ngroups\": 1", "\"ngroups\": 3")));
        Assert.Contains("ngroups 3 must divide nheads 8", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => MambaLMConfig.FromJson(json.Replace("\"Mamba2\"", "\"Mamba1\"")));
        Assert.Contains("Mamba1", ex.Message);
        File.WriteAllText(Path.Combine(dir, "config.json"), json.Replace("\"vocab_size\": 96", "\"vocab_size\": 97"));
        SafeTensors.Save(path, state);
        e = Assert.Throws<SafeTensorsFormatException>(() => MambaLMHeadModel.Load(dir, Device.Cpu));
        Assert.Contains("backbone.embedding.weight", e.Message);
        Directory.Delete(dir, true);
    }
}
