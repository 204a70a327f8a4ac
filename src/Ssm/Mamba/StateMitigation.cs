using System.Globalization;

namespace Ssm.Mamba;

// Training-free mitigations of state collapse (Chen et al., "Stuffed Mamba: Oversized States Lead to the Inability to
// Forget", 2024/2025, Section 5; the paper's repository did not publish them). With α_t = exp(Δ_t a) and
// h_t = α_t h_{t−1} + Δ_t x_t B_tᵀ:
//   RRI (reduced retention and insertion):  α_t ← f_α·α_t,  B_t ← f_B·B_t                      (defaults 0.9999, 0.75)
//   sliding window by state difference:    h_t^(r) = h_t − α_{t−r+1:t}·h_{t−r},  α_{t−r+1:t} = exp(Σ_{s=t−r+1..t} Δ_s a)
//                                           (exactly the state of the recurrence restarted r tokens back; the output
//                                           reads h^(r), the recurrence itself keeps h)
//   state normalization:                   h_t ← h_t·min(1, bound/‖h_t‖) per sequence and head after every update
//                                           (Frobenius norm over the headdim × d_state state of the head).

/// <summary>Which mitigation a <see cref="StateMitigation"/> applies.</summary>
public enum StateMitigationKind
{
    /// <summary>The plain model.</summary>
    None,

    /// <summary>Reduced retention and insertion: α_t ← f_α·α_t and B_t ← f_B·B_t.</summary>
    Rri,

    /// <summary>Sliding window by state difference: the output reads h_t − α_{t−r+1:t}·h_{t−r}.</summary>
    Window,

    /// <summary>State normalization: the state of each head is rescaled when its norm exceeds a bound.</summary>
    Normalize,
}

/// <summary>
/// An inference-time mitigation of state collapse for Mamba-2 (set <see cref="Mamba2.Mitigation"/> or
/// <see cref="MambaLMHeadModel.Mitigation"/>). Spelled on the command line as <c>none</c>, <c>rri</c>,
/// <c>rri:F_ALPHA,F_B</c>, <c>window:R</c> or <c>normalize:BOUND</c> (see <see cref="Parse"/>).
/// </summary>
public sealed record StateMitigation
{
    /// <summary>The mitigation applied.</summary>
    public StateMitigationKind Kind { get; init; }

    /// <summary>RRI: factor f_α multiplying every decay α_t (default 0.9999).</summary>
    public double RetentionFactor { get; init; } = 0.9999;

    /// <summary>RRI: factor f_B multiplying every B_t (default 0.75).</summary>
    public double InsertionFactor { get; init; } = 0.75;

    /// <summary>Sliding window: r, the number of most recent tokens the output's state covers.</summary>
    public int Window { get; init; }

    /// <summary>Normalization: the largest allowed norm of one head's state (may be +∞).</summary>
    public double NormBound { get; init; } = double.PositiveInfinity;

    /// <summary>No mitigation.</summary>
    public static StateMitigation None { get; } = new();

    /// <summary>RRI with the given factors (the paper's defaults 0.9999 and 0.75).</summary>
    public static StateMitigation Rri(double retentionFactor = 0.9999, double insertionFactor = 0.75) =>
        Checked(new StateMitigation { Kind = StateMitigationKind.Rri, RetentionFactor = retentionFactor, InsertionFactor = insertionFactor });

    /// <summary>The sliding window of the last <paramref name="window"/> tokens, by state difference.</summary>
    public static StateMitigation SlidingWindow(int window) =>
        Checked(new StateMitigation { Kind = StateMitigationKind.Window, Window = window });

    /// <summary>State normalization to at most <paramref name="bound"/> per head.</summary>
    public static StateMitigation Normalize(double bound) =>
        Checked(new StateMitigation { Kind = StateMitigationKind.Normalize, NormBound = bound });

    /// <summary>True for <see cref="StateMitigationKind.None"/>.</summary>
    public bool IsNone => Kind == StateMitigationKind.None;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting of the chosen kind.</summary>
    public void Validate()
    {
        switch (Kind)
        {
            case StateMitigationKind.Rri:
                if (!(RetentionFactor > 0 && RetentionFactor <= 1))
                    throw new ArgumentException($"StateMitigation: the RRI retention factor must be in (0, 1], got {RetentionFactor}.");
                if (!(InsertionFactor > 0 && double.IsFinite(InsertionFactor)))
                    throw new ArgumentException($"StateMitigation: the RRI insertion factor must be positive and finite, got {InsertionFactor}.");
                break;
            case StateMitigationKind.Window:
                if (Window < 1) throw new ArgumentException($"StateMitigation: the window must be at least 1 token, got {Window}.");
                break;
            case StateMitigationKind.Normalize:
                if (!(NormBound > 0)) throw new ArgumentException($"StateMitigation: the normalization bound must be positive, got {NormBound}.");
                break;
        }
    }

    /// <summary>
    /// Parses <c>none</c>, <c>rri</c> (defaults), <c>rri:F_ALPHA,F_B</c>, <c>window:R</c> or <c>normalize:BOUND</c>
    /// (BOUND may be <c>inf</c>); throws an <see cref="ArgumentException"/> that names the accepted forms.
    /// </summary>
    public static StateMitigation Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        const string forms = "none, rri, rri:F_ALPHA,F_B, window:R or normalize:BOUND";
        var s = text.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        string name = colon < 0 ? s : s[..colon], arg = colon < 0 ? "" : s[(colon + 1)..];
        static double Number(string v, string what, string text) =>
            v is "inf" or "infinity" ? double.PositiveInfinity
            : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
            : throw new ArgumentException($"--mitigation '{text}': {what} '{v}' is not a number.");
        try
        {
            switch (name)
            {
                case "none" when colon < 0: return None;
                case "rri" when colon < 0: return Rri();
                case "rri":
                    var parts = arg.Split(',');
                    if (parts.Length != 2) throw new ArgumentException($"--mitigation '{text}': rri takes two factors, rri:F_ALPHA,F_B (e.g. rri:0.9999,0.75).");
                    return Rri(Number(parts[0], "the retention factor", text), Number(parts[1], "the insertion factor", text));
                case "window" when colon >= 0:
                    return int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r) ? SlidingWindow(r)
                        : throw new ArgumentException($"--mitigation '{text}': the window '{arg}' is not an integer number of tokens.");
                case "normalize" when colon >= 0: return Normalize(Number(arg, "the bound", text));
                default: throw new ArgumentException($"--mitigation '{text}': unknown mitigation; use {forms}.");
            }
        }
        catch (ArgumentException e) when (!e.Message.StartsWith("--mitigation", StringComparison.Ordinal))
        {
            throw new ArgumentException($"--mitigation '{text}': {e.Message}", e);
        }
    }

    /// <summary>The command-line spelling (parses back to an equal record).</summary>
    public override string ToString() => Kind switch
    {
        StateMitigationKind.Rri => RetentionFactor == 0.9999 && InsertionFactor == 0.75 ? "rri"
            : string.Create(CultureInfo.InvariantCulture, $"rri:{RetentionFactor:R},{InsertionFactor:R}"),
        StateMitigationKind.Window => string.Create(CultureInfo.InvariantCulture, $"window:{Window}"),
        StateMitigationKind.Normalize => double.IsPositiveInfinity(NormBound) ? "normalize:inf"
            : string.Create(CultureInfo.InvariantCulture, $"normalize:{NormBound:R}"),
        _ => "none",
    };

    private static StateMitigation Checked(StateMitigation m)
    {
        m.Validate();
        return m;
    }
}
