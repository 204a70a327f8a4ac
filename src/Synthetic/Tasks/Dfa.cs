using System.Text;
using System.Text.Json.Serialization;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// Deterministic finite automata for in-context language learning (Akyürek et al. 2024, RegBench; berlino/seq_icl
// src/dataloaders/dfa.py). All states accept and missing transitions reject, so a DFA's language is the set of walks
// from state 0. Minimization is Moore's partition refinement on the reachable part: states start in one block (all
// accepting; the implicit dead state is the only rejecting one) and are split by (block, block of the target of each
// symbol or "none") until stable. The minimal DFA is then relabelled canonically — states numbered in breadth-first
// order from the start state, following symbols in ascending order — so two DFAs accept the same language exactly
// when their minimized forms are identical (the canonical key).

/// <summary>
/// A DFA over letters 0..17 ('a'..'r') with start state 0 and every state accepting. <see cref="Edges"/> lists the
/// transitions as [from, symbol, to], sorted by (from, symbol).
/// </summary>
public sealed class Dfa
{
    /// <summary>Letters available to DFAs ('a'..'r').</summary>
    public const int MaxSymbols = 18;

    private readonly int[] _next; // [state, symbol] → target, −1 when missing

    /// <summary>Creates a DFA (validates states, alphabet and edges).</summary>
    [JsonConstructor]
    public Dfa(int numStates, int[] alphabet, int[][] edges)
    {
        ArgumentNullException.ThrowIfNull(alphabet);
        ArgumentNullException.ThrowIfNull(edges);
        if (numStates < 1) throw new ArgumentOutOfRangeException(nameof(numStates), numStates, "Dfa: numStates must be at least 1.");
        var sortedAlphabet = alphabet.Order().ToArray();
        for (int i = 0; i < sortedAlphabet.Length; i++)
        {
            if ((uint)sortedAlphabet[i] >= MaxSymbols) throw new ArgumentOutOfRangeException(nameof(alphabet), sortedAlphabet[i], $"Dfa: letter {sortedAlphabet[i]} is outside 0..{MaxSymbols - 1}.");
            if (i > 0 && sortedAlphabet[i] == sortedAlphabet[i - 1]) throw new ArgumentException($"Dfa: letter {sortedAlphabet[i]} repeats in the alphabet.", nameof(alphabet));
        }
        _next = new int[numStates * MaxSymbols];
        Array.Fill(_next, -1);
        foreach (var e in edges)
        {
            if (e is not { Length: 3 }) throw new ArgumentException("Dfa: every edge must be [from, symbol, to].", nameof(edges));
            int from = e[0], sym = e[1], to = e[2];
            if ((uint)from >= numStates || (uint)to >= numStates)
                throw new ArgumentOutOfRangeException(nameof(edges), $"Dfa: edge [{from}, {sym}, {to}] names a state outside 0..{numStates - 1}.");
            if (Array.BinarySearch(sortedAlphabet, sym) < 0)
                throw new ArgumentException($"Dfa: edge [{from}, {sym}, {to}] uses letter {sym}, which is not in the alphabet.", nameof(edges));
            if (_next[from * MaxSymbols + sym] >= 0)
                throw new ArgumentException($"Dfa: state {from} has two edges on letter {sym}.", nameof(edges));
            _next[from * MaxSymbols + sym] = to;
        }
        NumStates = numStates;
        Alphabet = sortedAlphabet;
        var list = new List<int[]>();
        for (int s = 0; s < numStates; s++)
            for (int a = 0; a < MaxSymbols; a++)
                if (_next[s * MaxSymbols + a] is int t and >= 0) list.Add(new[] { s, a, t });
        Edges = list.ToArray();
    }

    /// <summary>Number of states (state 0 is the start).</summary>
    public int NumStates { get; }

    /// <summary>The DFA's alphabet (sorted letter ids); edges use a subset of it.</summary>
    public int[] Alphabet { get; }

    /// <summary>Transitions [from, symbol, to], sorted by (from, symbol).</summary>
    public int[][] Edges { get; }

    /// <summary>The target of <paramref name="state"/> on <paramref name="symbol"/>, or −1 (also for symbols that are not letters).</summary>
    public int Next(int state, int symbol) => (uint)symbol < MaxSymbols ? _next[state * MaxSymbols + symbol] : -1;

    /// <summary>Number of outgoing edges of <paramref name="state"/>.</summary>
    public int OutDegree(int state)
    {
        int n = 0;
        for (int a = 0; a < MaxSymbols; a++) if (_next[state * MaxSymbols + a] >= 0) n++;
        return n;
    }

    /// <summary>The letters with an edge out of <paramref name="state"/>, ascending.</summary>
    public IEnumerable<int> SymbolsFrom(int state)
    {
        for (int a = 0; a < MaxSymbols; a++) if (_next[state * MaxSymbols + a] >= 0) yield return a;
    }

    /// <summary>The state reached by reading <paramref name="word"/> from state 0, or −1 if it is rejected.</summary>
    public int Run(ReadOnlySpan<int> word)
    {
        int s = 0;
        foreach (var a in word)
        {
            s = Next(s, a);
            if (s < 0) return -1;
        }
        return s;
    }

    /// <summary>Whether the DFA accepts <paramref name="word"/> (every state accepts, so: a walk exists).</summary>
    public bool Accepts(ReadOnlySpan<int> word) => Run(word) >= 0;

    /// <summary>States reachable from state 0.</summary>
    public bool[] Reachable()
    {
        var seen = new bool[NumStates];
        var queue = new Queue<int>();
        seen[0] = true;
        queue.Enqueue(0);
        while (queue.Count > 0)
        {
            int s = queue.Dequeue();
            for (int a = 0; a < MaxSymbols; a++)
                if (_next[s * MaxSymbols + a] is int t and >= 0 && !seen[t]) { seen[t] = true; queue.Enqueue(t); }
        }
        return seen;
    }

    /// <summary>
    /// The minimal DFA of the same language: unreachable states removed, equivalent states merged (Moore), states
    /// relabelled canonically (breadth-first from the start, letters ascending). The alphabet is kept.
    /// </summary>
    public Dfa Minimize()
    {
        var reachable = Reachable();
        var block = new int[NumStates];
        int blocks = 1;
        var sig = new int[MaxSymbols + 1];
        while (true)
        {
            var ids = new Dictionary<string, int>();
            var next = new int[NumStates];
            for (int s = 0; s < NumStates; s++)
            {
                if (!reachable[s]) { next[s] = -1; continue; }
                sig[0] = block[s];
                for (int a = 0; a < MaxSymbols; a++) sig[a + 1] = _next[s * MaxSymbols + a] is int t and >= 0 ? block[t] : -1;
                var key = string.Join(',', sig);
                if (!ids.TryGetValue(key, out var id)) ids[key] = id = ids.Count;
                next[s] = id;
            }
            block = next;
            if (ids.Count == blocks) break;
            blocks = ids.Count;
        }
        // Canonical BFS numbering of the blocks.
        var label = new int[blocks];
        Array.Fill(label, -1);
        var rep = new int[blocks]; // a representative state of each block
        for (int s = NumStates - 1; s >= 0; s--) if (block[s] >= 0) rep[block[s]] = s;
        var order = new List<int> { block[0] };
        label[block[0]] = 0;
        var edges = new List<int[]>();
        for (int i = 0; i < order.Count; i++)
        {
            int s = rep[order[i]];
            for (int a = 0; a < MaxSymbols; a++)
            {
                if (_next[s * MaxSymbols + a] is not (int t and >= 0)) continue;
                int b = block[t];
                if (label[b] < 0) { label[b] = order.Count; order.Add(b); }
                edges.Add(new[] { i, a, label[b] });
            }
        }
        return new Dfa(order.Count, Alphabet, edges.ToArray());
    }

    /// <summary>
    /// A string naming the states and edges of this labelling; for DFAs from <see cref="Minimize"/> two keys are equal
    /// exactly when the languages are (used to deduplicate).
    /// </summary>
    public string Key()
    {
        var sb = new StringBuilder();
        sb.Append(NumStates).Append(':');
        foreach (var e in Edges) sb.Append(e[0]).Append(',').Append(e[1]).Append(',').Append(e[2]).Append(';');
        return sb.ToString();
    }

    /// <summary>Letters as text ('a' + id).</summary>
    public static char Letter(int symbol) => (char)('a' + symbol);

    /// <inheritdoc />
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"DFA with {NumStates} states over {{{string.Concat(Alphabet.Select(Letter))}}}:");
        foreach (var e in Edges) sb.Append($" {e[0]}-{Letter(e[1])}->{e[2]}");
        return sb.ToString();
    }
}
