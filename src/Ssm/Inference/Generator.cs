using Ssm.Kernels;

namespace Ssm.Inference;

/// <summary>
/// Autoregressive generation for any <see cref="IRecurrentLanguageModel"/>, for a batch of prompts of different
/// lengths: the common prefix is prefilled in parallel (chunked form), the rest of each prompt is fed token by token,
/// then tokens are chosen by <see cref="SamplingOptions"/> and fed back through the recurrent step.
/// </summary>
public static class Generator
{
    /// <summary>Returns the <paramref name="maxNewTokens"/> new tokens of each prompt (fewer if <paramref name="eosId"/> is produced).</summary>
    public static int[][] Generate(IRecurrentLanguageModel model, IReadOnlyList<int[]> prompts, int maxNewTokens,
        SamplingOptions? sampling = null, Rng? rng = null, int? eosId = null, Device? device = null)
    {
        sampling ??= SamplingOptions.Greedy;
        sampling.Validate();
        if (prompts.Count == 0) throw new ArgumentException("Generator.Generate: no prompts.", nameof(prompts));
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("Generator.Generate: every prompt needs at least one token.", nameof(prompts));
        if (maxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxNewTokens), maxNewTokens, "must be ≥ 0.");
        foreach (var p in prompts)
            foreach (var id in p)
                if (id < 0 || id >= model.VocabSize)
                    throw new ArgumentOutOfRangeException(nameof(prompts), id, $"Generator.Generate: token id {id} is outside the vocabulary [0, {model.VocabSize}).");
        rng ??= new Rng(0);
        int batch = prompts.Count, vocab = model.VocabSize, minLen = prompts.Min(p => p.Length);
        var outputs = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var done = new bool[batch];
        using var noGrad = Autograd.NoGrad();
        using var cache = model.AllocateInferenceCache(batch);

        float[] last;
        using (var scope = TensorScope.Begin())
        {
            var ids = new int[batch * minLen];
            for (int b = 0; b < batch; b++) Array.Copy(prompts[b], 0, ids, b * minLen, minLen);
            var logits = model.Forward(Tensor.From(ids, new[] { batch, minLen }, device), cache).Data;
            last = Layout.Narrow(logits, 1, minLen - 1, 1).ToArray();
        }

        for (int pos = minLen; ; pos++)
        {
            var next = new int[batch];
            for (int b = 0; b < batch; b++)
            {
                if (pos < prompts[b].Length) { next[b] = prompts[b][pos]; continue; }
                if (done[b] || outputs[b].Count >= maxNewTokens) { done[b] = true; continue; }
                int token = sampling.Choose(last.AsSpan(b * vocab, vocab), rng);
                outputs[b].Add(token);
                next[b] = token;
                if (token == eosId || outputs[b].Count >= maxNewTokens) done[b] = true;
            }
            if (done.All(d => d)) break;
            using var scope = TensorScope.Begin();
            last = model.Step(cache, Tensor.From(next, new[] { batch }, device)).ToArray();
        }
        return outputs.Select(o => o.ToArray()).ToArray();
    }
}
