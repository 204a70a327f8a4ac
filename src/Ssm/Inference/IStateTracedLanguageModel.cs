using Ssm.Kernels;

namespace Ssm.Inference;

/// <summary>
/// A recurrent language model whose per-layer recurrent state can be read between the chunks of a prefill, so that
/// <see cref="StateDiagnostics"/> can record its <see cref="StateTrace"/>. Each layer's state is split into heads:
/// groups of elements that share a decay (a Mamba-2 head: headdim × d_state elements; an S4D channel: its N/2 complex
/// modes as N real numbers). Mamba-2 (<see cref="Mamba.MambaLMHeadModel"/>) and S4D (<see cref="S4.S4DLanguageModel"/>)
/// language models implement it.
/// </summary>
public interface IStateTracedLanguageModel : IRecurrentLanguageModel
{
    /// <summary>Layers with a recurrent state.</summary>
    int StateLayers { get; }

    /// <summary>Heads per layer.</summary>
    int StateHeads { get; }

    /// <summary>State elements of one head of one sequence.</summary>
    int StateHeadSize { get; }

    /// <summary>What a head is, for reports: <c>head</c> (Mamba-2) or <c>channel</c> (S4D).</summary>
    string StateHeadUnit { get; }

    /// <summary>The state-collapse mitigation the model runs with (command-line spelling; <c>none</c> for models without one).</summary>
    string StateMitigationName { get; }

    /// <summary>
    /// The state that layer <paramref name="layer"/>'s output reads after the tokens <paramref name="cache"/> consumed,
    /// [batch, heads, head_size] float32. It may share storage with the cache: read it before the cache advances, and
    /// do not modify it.
    /// </summary>
    Tensor TracedState(IInferenceCache cache, int layer);

    /// <summary>
    /// ln α_{1:t} [batch, heads]: the log of the weight the first token still has in the head's state after the t
    /// tokens <paramref name="cache"/> consumed. May share storage with the cache (read only).
    /// </summary>
    Tensor TracedLogRetention(IInferenceCache cache, int layer);
}
