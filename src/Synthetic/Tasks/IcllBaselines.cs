namespace Ssm.Synthetic.Tasks;

// Baselines of RegBench (Akyürek et al. 2024), as argmax predictors for IcllTask.Score. Both read only the inputs.
//
// In-context n-gram with back-off (berlino/seq_icl ngram.py, predict_with_n_gram_back_off, backoff on, no add-one):
//   the prompt so far is split at '|'; each string is left-padded with N−1 '_' and all its k-grams (k = 1..N,
//   padding included, the current unfinished string too) are counted. For the prefix h = the last N−1 symbols of the
//   current padded string:  P_N(c | h) = count(h c) / count(h)  when count(h c) > 0; otherwise the unused mass
//   β = 1 − Σ_{seen c'} P_N(c' | h) is spread over the unseen letters in proportion to the back-off distribution of order
//   N−1 on h without its first symbol; P_1(c) = count(c) / Σ count (the '_' counts included). Letters range over those
//   seen so far. The prediction is the argmax (ties: the lowest letter).
//
// n-gram head (seq_icl src/models/sequence/rnn/ngram.py, induction_head with shift 1): position i attends uniformly to
//   every earlier position j < i whose preceding n tokens equal the n tokens ending at i; the prediction is the most
//   frequent token at those positions (ties: the lowest id). All tokens count, '|' included. Where no earlier match of
//   length n exists the head backs off to n−1, …, 1 and finally to the most frequent token so far (a choice of this
//   implementation: the layer itself would output zero there).

/// <summary>Argmax predictors of the ICLL baselines, laid out like a batch's targets ([batch, length]).</summary>
public static class IcllBaselines
{
    private const int PadSymbol = 20; // '_' of the n-gram padding, outside the token vocabulary
    private const int KeyBase = 32;

    /// <summary>The in-context n-gram model with back-off (RegBench uses n = 3).</summary>
    public static int[] NGramBackoff(TokenBatch batch, int n = 3)
    {
        Check(batch, n, nameof(NGramBackoff));
        var pred = new int[batch.Batch * batch.Length];
        Array.Fill(pred, IcllTask.Pad);
        for (int b = 0; b < batch.Batch; b++)
        {
            var model = new BackoffCounts(n);
            var row = batch.InputRow(b);
            for (int t = 0; t < batch.ValidLength(b); t++)
            {
                model.Read(row[t]);
                pred[b * batch.Length + t] = model.Predict();
            }
        }
        return pred;
    }

    /// <summary>The n-gram head: the most frequent token after earlier matches of the last n tokens (RegBench: n = 3).</summary>
    public static int[] NGramHead(TokenBatch batch, int n = 3)
    {
        Check(batch, n, nameof(NGramHead));
        var pred = new int[batch.Batch * batch.Length];
        Array.Fill(pred, IcllTask.Pad);
        for (int b = 0; b < batch.Batch; b++)
        {
            var x = batch.InputRow(b);
            // follow[m]: context of the m tokens before a position → counts of the token at that position.
            var follow = new Dictionary<long, int[]>[n + 1];
            for (int m = 0; m <= n; m++) follow[m] = new Dictionary<long, int[]>();
            for (int i = 0; i < batch.ValidLength(b); i++)
            {
                if (i >= 1)
                    for (int m = 0; m <= Math.Min(n, i - 1); m++)
                    {
                        long key = Key(x, i - 1 - m, m); // the m tokens x[i−1−m .. i−2] precede position i−1
                        if (!follow[m].TryGetValue(key, out var h)) follow[m][key] = h = new int[IcllTask.Vocabulary];
                        h[x[i - 1]]++;
                    }
                int p = x[i];
                for (int m = n; m >= 0; m--)
                {
                    if (i - m + 1 < 0) continue;
                    if (follow[m].TryGetValue(Key(x, i - m + 1, m), out var h)) { p = ArgMax(h); break; }
                }
                pred[b * batch.Length + i] = p;
            }
        }
        return pred;
    }

    private static void Check(TokenBatch batch, int n, string name)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (n is < 1 or > 12) throw new ArgumentOutOfRangeException(nameof(n), n, $"IcllBaselines.{name}: n must be in 1..12.");
        foreach (var t in batch.Inputs)
            if ((uint)t >= IcllTask.Vocabulary) throw new ArgumentException($"IcllBaselines.{name}: token {t} is not an ICLL token.", nameof(batch));
    }

    // The m tokens starting at `start` as one number (base 32).
    private static long Key(ReadOnlySpan<int> x, int start, int m)
    {
        long k = m;
        for (int i = 0; i < m; i++) k = k * KeyBase + x[start + i];
        return k;
    }

    private static int ArgMax(int[] h)
    {
        int best = 0;
        for (int i = 1; i < h.Length; i++) if (h[i] > h[best]) best = i;
        return best;
    }

    // k-gram counts (k = 1..N) of the '_'-padded strings of a prompt read so far.
    private sealed class BackoffCounts
    {
        private readonly int _n;
        private readonly Dictionary<long, int>[] _counts; // [k] → count of each k-gram
        private readonly List<int> _current = new();       // the current padded string
        private readonly SortedSet<int> _vocab = new();     // letters seen so far
        private long _unigramTotal;

        public BackoffCounts(int n)
        {
            _n = n;
            _counts = new Dictionary<long, int>[n + 1];
            for (int k = 1; k <= n; k++) _counts[k] = new Dictionary<long, int>();
            StartString();
        }

        public void Read(int token)
        {
            if (token == IcllTask.Separator) StartString();
            else if (token != IcllTask.Pad) { _vocab.Add(token); Append(token); }
        }

        private void StartString()
        {
            _current.Clear();
            for (int i = 0; i < _n - 1; i++) Append(PadSymbol);
        }

        private void Append(int symbol)
        {
            _current.Add(symbol);
            int end = _current.Count;
            for (int k = 1; k <= _n && k <= end; k++)
            {
                long key = GramKey(_current, end - k, k);
                _counts[k][key] = _counts[k].GetValueOrDefault(key) + 1;
                if (k == 1) _unigramTotal++;
            }
        }

        private static long GramKey(IReadOnlyList<int> s, int start, int k)
        {
            long key = 0;
            for (int i = 0; i < k; i++) key = key * KeyBase + s[start + i];
            return key;
        }

        public int Predict()
        {
            if (_vocab.Count == 0) return 0;
            var letters = _vocab.ToArray();
            var prefix = _current.GetRange(_current.Count - (_n - 1), _n - 1);
            var p = Distribution(_n, prefix, letters);
            int best = 0;
            for (int i = 1; i < p.Length; i++) if (p[i] > p[best]) best = i;
            return letters[best];
        }

        // P_k(c | prefix) for every letter c (prefix has k−1 symbols).
        private double[] Distribution(int k, List<int> prefix, int[] letters)
        {
            var p = new double[letters.Length];
            if (k == 1)
            {
                for (int i = 0; i < letters.Length; i++) p[i] = _counts[1].GetValueOrDefault(letters[i]) / (double)_unigramTotal;
                return p;
            }
            long h = GramKey(prefix, 0, k - 1);
            double denominator = _counts[k - 1].GetValueOrDefault(h);
            double seen = 0;
            var missing = new List<int>();
            for (int i = 0; i < letters.Length; i++)
            {
                int c = _counts[k].GetValueOrDefault(h * KeyBase + letters[i]);
                if (c > 0) { p[i] = c / denominator; seen += p[i]; }
                else missing.Add(i);
            }
            if (missing.Count > 0)
            {
                var lower = Distribution(k - 1, prefix.GetRange(1, k - 2), letters);
                double mass = missing.Sum(i => lower[i]);
                double alpha = (1 - seen) / mass;
                foreach (var i in missing) p[i] = alpha * lower[i];
            }
            return p;
        }
    }
}
