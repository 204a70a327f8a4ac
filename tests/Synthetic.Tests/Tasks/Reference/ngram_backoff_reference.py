# Produces the expected predictions of IcllTests.NGramBackoffMatchesTheReferenceAlgorithm: an independent restatement
# of berlino/seq_icl ngram.py predict_with_n_gram_back_off (backoff=True, addone=False), argmax per position
# (ties: the lowest letter). Run: python3 ngram_backoff_reference.py
from collections import Counter

def counts_of(texts, N):
    c = {n: Counter() for n in range(1, N + 1)}
    for t in texts:
        t = "_" * (N - 1) + t
        for n in range(1, N + 1):
            for i in range(len(t) - n + 1):
                c[n][t[i:i + n]] += 1
    return c

def cond(prefix, ch, n, c):
    if n == 1:
        return c[1][prefix + ch] / sum(c[1].values())
    return c[n][prefix + ch] / c[n - 1][prefix]

def probs(prefix, chars, n, c, vocab):
    out = []
    for ch in chars:
        if c[n][prefix + ch] > 0:
            out.append(cond(prefix, ch, n, c))
        else:
            seen, missing = 0.0, []
            for v in vocab:
                if c[n][prefix + v] > 0:
                    seen += cond(prefix, v, n, c)
                else:
                    missing.append(v)
            lower = probs(prefix[1:], missing, n - 1, c, vocab)
            out.append((1 - seen) / sum(lower) * lower[missing.index(ch)])
    return out

def predict(inputs, N=3):
    preds = []
    for t in range(1, len(inputs) + 1):
        texts = inputs[:t].split("|")
        c = counts_of(texts, N)
        vocab = sorted(set("".join(texts)))
        prefix = texts[-1][-(N - 1):] if N > 1 else ""
        prefix = "_" * (N - 1 - len(prefix)) + prefix
        p = probs(prefix, vocab, N, c, vocab)
        preds.append(vocab[max(range(len(vocab)), key=lambda i: (p[i], -i))])
    return "".join(preds)

prompt = "bccbc|a|daadda|adcacb|adbdc|dd|ab|bc|ba|bcccba|adecbb|aa|ab|aebc"
for N in (1, 2, 3, 4):
    print(N, predict(prompt, N))
