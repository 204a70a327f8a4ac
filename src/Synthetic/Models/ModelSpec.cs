using System.Text.Json.Serialization;

namespace Ssm.Synthetic.Models;

/// <summary>
/// Everything needed to rebuild a model for a task: the architecture name (the CLI's <c>--model</c>), its sizes, and
/// the task's vocabulary and output width. Stored in a run's <c>run.json</c> so <c>ssm eval</c> can reload weights.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>Architecture: mlp, mamba2, …</summary>
    public string Name { get; init; } = "mamba2";
    /// <summary>Model width.</summary>
    public int DModel { get; init; } = 64;
    /// <summary>Number of blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>SSM state size (Mamba-2 d_state, S4D N).</summary>
    public int DState { get; init; } = 16;
    /// <summary>Mamba-2 head dimension / attention head dimension.</summary>
    public int HeadDim { get; init; } = 16;
    /// <summary>SSD chunk length.</summary>
    public int Chunk { get; init; } = 64;
    /// <summary>Input vocabulary.</summary>
    public int Vocab { get; init; }
    /// <summary>Output width: vocabulary for language-model tasks, classes for classification.</summary>
    public int Outputs { get; init; }
    /// <summary>True when the task has one target per sequence (classification).</summary>
    [JsonPropertyName("per_sequence")]
    public bool PerSequence { get; init; }
}
