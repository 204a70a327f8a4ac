using Ssm.Kernels;

namespace Ssm.Checkpoints;

/// <summary>
/// The mamba_ssm / Hugging Face model-folder layout shared by the language models: <c>config.json</c> next to
/// <c>model.safetensors</c> (parameter names as the reference implementation; a tied <c>lm_head.weight</c> may be
/// present and must then equal <c>backbone.embedding.weight</c>). Both files are written atomically.
/// </summary>
public static class ModelFolder
{
    /// <summary>File name of the configuration.</summary>
    public const string ConfigFile = "config.json";

    /// <summary>File name of the weights.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>
    /// The text of <c>config.json</c> in <paramref name="directory"/> and its path; throws a
    /// <see cref="FileNotFoundException"/> naming <paramref name="caller"/> when either file of the folder is missing.
    /// </summary>
    public static (string Json, string ConfigPath) ReadConfig(string caller, string directory)
    {
        var configPath = Path.Combine(directory, ConfigFile);
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{caller}: no {ConfigFile} in {directory}.", configPath);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"{caller}: no {WeightsFile} in {directory}.", weightsPath);
        return (File.ReadAllText(configPath), configPath);
    }

    /// <summary>
    /// Loads <c>model.safetensors</c> of <paramref name="directory"/> into <paramref name="model"/> on
    /// <paramref name="device"/>. With <paramref name="tiedEmbeddings"/>, a stored <c>lm_head.weight</c> must equal the
    /// embedding and is dropped. Missing, unexpected or mis-shaped tensors are refused with one
    /// <see cref="SafeTensorsFormatException"/> listing every problem.
    /// </summary>
    public static void LoadWeights(Module model, string directory, bool tiedEmbeddings, Device device)
    {
        ArgumentNullException.ThrowIfNull(model);
        var weightsPath = Path.Combine(directory, WeightsFile);
        using var file = SafeTensorsFile.Open(weightsPath);
        using var scope = TensorScope.Begin();
        var state = new Dictionary<string, Tensor>();
        foreach (var name in file.Names) state[name] = file.Read(name, device);
        if (tiedEmbeddings && state.Remove("lm_head.weight", out var head) && state.TryGetValue("backbone.embedding.weight", out var emb)
            && !head.ToArray().AsSpan().SequenceEqual(emb.ToArray()))
            throw new SafeTensorsFormatException($"{weightsPath}: lm_head.weight differs from backbone.embedding.weight but {ConfigFile} has tie_embeddings = true.");
        try { model.LoadStateDict(state); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new SafeTensorsFormatException($"{weightsPath}: does not match {ConfigFile}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Saves <paramref name="model"/>'s state dict as <c>model.safetensors</c> (safetensors metadata <c>format = pt</c>)
    /// and <paramref name="configJson"/> as <c>config.json</c> in <paramref name="directory"/>, each atomically.
    /// </summary>
    public static void Save(Module model, string directory, string configJson, FloatStorage floats = FloatStorage.F32)
    {
        ArgumentNullException.ThrowIfNull(model);
        Directory.CreateDirectory(directory);
        SafeTensors.Save(Path.Combine(directory, WeightsFile), model.StateDict(), new Dictionary<string, string> { ["format"] = "pt" }, floats);
        var tmp = Path.Combine(directory, $".{ConfigFile}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(tmp, configJson);
        File.Move(tmp, Path.Combine(directory, ConfigFile), overwrite: true);
    }
}
