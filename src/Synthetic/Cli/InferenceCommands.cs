using System.CommandLine;
using Ssm.Checkpoints;
using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm forward</c> and <c>ssm generate</c>: run a saved language model (mamba_ssm folder layout).</summary>
internal static class InferenceCommands
{
    public static Command Forward()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder with config.json and model.safetensors (mamba_ssm layout).", Required = true };
        var input = new Option<FileInfo>("--input") { Description = "safetensors file with int64 (or int32) input_ids of shape (B, L).", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "safetensors file to write float32 logits of shape (B, L, V) to.", Required = true };
        var mode = new Option<string>("--mode") { Description = "parallel (chunked scan, default) or step (token by token with the recurrent state).", DefaultValueFactory = _ => "parallel" };
        mode.AcceptOnlyFromAmong("parallel", "step");
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var cmd = new Command("forward", "Computes next-token logits for every position of input_ids and writes them to a safetensors file.")
        {
            model, input, output, mode, device, threads,
        };
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var lm = MambaLMHeadModel.Load(r.GetValue(model)!.FullName, dev);
            using var file = SafeTensorsFile.Open(r.GetValue(input)!.FullName);
            using var scope = TensorScope.Begin();
            using var noGrad = Autograd.NoGrad();
            var ids = file.Read("input_ids", dev);
            if (ids.DType == DType.Float32 || ids.Rank != 2)
                throw new ArgumentException($"--input: input_ids has shape {Shapes.Format(ids.Shape)} and dtype {ids.DType}, expected an integer (B, L) tensor.");
            var logits = r.GetValue(mode) == "step" ? StepLogits(lm, ids) : lm.Forward(ids).Data;
            SafeTensors.Save(r.GetValue(output)!.FullName, new Dictionary<string, Tensor> { ["logits"] = logits });
            Console.WriteLine($"wrote logits {Shapes.Format(logits.Shape)} to {r.GetValue(output)!.FullName}");
            return 0;
        });
        return cmd;
    }

    private static Tensor StepLogits(MambaLMHeadModel lm, Tensor ids)
    {
        int batch = ids.Size(0), length = ids.Size(1);
        using var cache = lm.AllocateCache(batch);
        var steps = new List<Tensor>();
        for (int t = 0; t < length; t++)
            steps.Add(lm.Step(cache, Layout.Narrow(ids, 1, t, 1).Reshape(batch)).Reshape(batch, 1, lm.VocabSize));
        return Layout.Concat(steps, 1);
    }

    public static Command Generate()
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Model folder with config.json and model.safetensors (mamba_ssm layout).", Required = true };
        var prompt = new Option<string[]>("--prompt-ids")
        {
            Description = "Comma-separated token ids of a prompt; repeat the option for a batch of prompts (e.g. --prompt-ids 1,2,3 --prompt-ids 4,5).",
            Required = true,
            AllowMultipleArgumentsPerToken = false,
        };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate per prompt.", DefaultValueFactory = _ => 20 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = greedy (default).", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0 = all).", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling threshold (1 = off).", DefaultValueFactory = _ => 1 };
        var eos = new Option<int?>("--eos-id") { Description = "Stop a sequence when this id is generated." };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var cmd = new Command("generate", "Generates tokens after each prompt (greedy by default) and prints the new ids, one line per prompt.")
        {
            model, prompt, maxNew, temperature, topK, topP, eos, seed, device, threads,
        };
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var prompts = r.GetValue(prompt)!.Select(ParseIds).ToList();
            var lm = MambaLMHeadModel.Load(r.GetValue(model)!.FullName, dev);
            var sampling = new SamplingOptions { Temperature = r.GetValue(temperature), TopK = r.GetValue(topK), TopP = r.GetValue(topP) };
            var outputs = Generator.Generate(lm, prompts, r.GetValue(maxNew), sampling, new Rng(r.GetValue(seed)), r.GetValue(eos), dev);
            foreach (var o in outputs) Console.WriteLine(string.Join(",", o));
            return 0;
        });
        return cmd;
    }

    private static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new ArgumentException("--prompt-ids: empty prompt.");
        return parts.Select(p => int.TryParse(p, out var v) ? v : throw new ArgumentException($"--prompt-ids: '{p}' is not an integer token id.")).ToArray();
    }
}
