using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Hybrid.Tests.Stacks;

public sealed class TransformerBlockTests
{
    private static AttentionConfig Attention(AttentionMask mask) => new()
    {
        DModel = 8, NumHeads = 4, NumHeadsKv = 2, HeadDim = 4, RotaryEmbDim = 4, Mask = mask,
    };

    [Theory]
    [InlineData(MlpKind.SwiGlu, NormKind.RmsNorm, "causal")]
    [InlineData(MlpKind.Gelu, NormKind.LayerNorm, "sliding")]
    public void GradientsMatchFiniteDifferences(MlpKind mlp, NormKind norm, string mask)
    {
        var block = new TransformerBlock(Attention(mask == "causal" ? AttentionMask.Causal : AttentionMask.SlidingWindow(3)),
            new BlockConfig { DIntermediate = 6, Mlp = mlp, Norm = norm, MlpBias = mlp == MlpKind.Gelu }, new Rng(5), Device.Cpu);
        var x = new Variable(new Rng(6).Normal(new[] { 2, 5, 8 }), requiresGrad: true);
        var inputs = new List<Variable> { x };
        inputs.AddRange(block.Parameters());
        GradCheck.Assert(v => block.Forward(v[0]), inputs.ToArray(), eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 10);
    }

    [Fact]
    public void PreNormResidualsAsDocumented()
    {
        // x + mlp(norm2(x + attn(norm(x)))) computed from the parts.
        var block = new TransformerBlock(Attention(AttentionMask.Causal), new BlockConfig { DIntermediate = 6 }, new Rng(2), Device.Cpu);
        var x = new Variable(new Rng(3).Normal(new[] { 1, 4, 8 }));
        using var noGrad = Autograd.NoGrad();
        var h = F.Add(x, block.Attention!.Forward(((IForward)block.Norm).Forward(x)));
        var expected = F.Add(h, block.Mlp!.Forward(((IForward)block.Norm2!).Forward(h)));
        Close.All(expected.Data, block.Forward(x).Data, 1e-6, 1e-7, "block");
        Assert.Equal(new[] { "norm.weight", "mixer.in_proj.weight", "mixer.in_proj.bias", "mixer.out_proj.weight", "mixer.out_proj.bias",
            "norm2.weight", "mlp.fc1.weight", "mlp.fc2.weight" }, block.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { 12, 8 }, block.Mlp.Fc1.Weight.Data.ShapeArray()); // SwiGLU: value and gate halves
    }

    [Fact]
    public void DropoutActsInTrainingOnly()
    {
        var block = new TransformerBlock(Attention(AttentionMask.Causal), new BlockConfig { DIntermediate = 6, Dropout = 0.5f }, new Rng(2), Device.Cpu);
        var x = new Variable(new Rng(3).Normal(new[] { 1, 6, 8 }));
        using var noGrad = Autograd.NoGrad();
        var train = block.Forward(x).Data.ToArray();
        block.Eval();
        var eval1 = block.Forward(x).Data.ToArray();
        var eval2 = block.Forward(x).Data.ToArray();
        Assert.Equal(eval1, eval2);
        Assert.NotEqual(eval1, train);
    }

    [Fact]
    public void ClassifierLearnsWhetherATokenOccurs()
    {
        // Class 1 iff token 1 occurs anywhere in the sequence: needs attention across positions (full mask) and pooling.
        var config = new TransformerConfig
        {
            DModel = 16, NLayer = 1, VocabSize = 6,
            Attention = new AttentionConfig { DModel = 16, NumHeads = 2, Mask = AttentionMask.Full },
            Block = new BlockConfig { DIntermediate = 16 },
        };
        var model = new TransformerClassifier(config, 2, new Rng(4), Device.Cpu);
        Assert.Equal(new[] { "classifier.weight", "classifier.bias" }, model.NamedParameters().TakeLast(2).Select(p => p.Name));
        var rng = new Rng(8);
        const int batch = 32, length = 6;
        var ids = new int[batch * length];
        var labels = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < length; t++) ids[b * length + t] = 2 + rng.Next(4);
            if (b % 2 == 1) { ids[b * length + rng.Next(length)] = 1; labels[b] = 1; }
        }
        var x = Tensor.From(ids, new[] { batch, length });
        var y = Tensor.From(labels, new[] { batch });
        using var opt = new AdamW(model.Parameters(), lr: 1e-2);
        float first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            using var scope = TensorScope.Begin();
            var logits = model.Forward(x);
            Assert.Equal(new[] { batch, 2 }, logits.Data.ShapeArray());
            var loss = F.CrossEntropy(logits, y);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(last < 0.25 * first, $"classifier loss went {first} → {last}");
    }
}
