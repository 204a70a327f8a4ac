# Produces the expected predictions of IcllTests.NGramHeadMatchesTheReferenceAttentionPattern: the mask of
# berlino/seq_icl src/models/sequence/rnn/ngram.py induction_head(x, shift_step=1, ngram=n) built in its matrix form
# (plain Python); each row predicts the most frequent attended token (ties: lowest id), backing off to n-1, ..., 1 and
# then the unigram where the row is empty. Run: python3 ngram_head_reference.py
def head_mask(x, n):
    L = len(x)
    causal = [[j < i for j in range(L)] for i in range(L)]
    m0 = [[x[j] == x[i] and causal[i][j] for j in range(L)] for i in range(L)]
    masks = [m0]; m = m0
    for _ in range(1, n):   # F.pad(m, (1,-1,1,-1)): shift down-right by one
        m = [[(m[i-1][j-1] if i > 0 and j > 0 else False) for j in range(L)] for i in range(L)]
        masks.append(m)
    ih = [[sum(mk[i][j] for mk in masks) >= n for j in range(L)] for i in range(L)]
    sh = [[(ih[i][j-1] if j > 0 else False) for j in range(L)] for i in range(L)]  # F.pad(ih, (1,-1))
    return [[sh[i][j] and causal[i][j] for j in range(L)] for i in range(L)]
def argmax_hist(tokens, V=20):
    h = [0]*V
    for t in tokens: h[t] += 1
    return max(range(V), key=lambda k: (h[k], -k))
def predict(x, n):
    L = len(x); out = []
    masks = {m: head_mask(x, m) for m in range(1, n+1)}
    for i in range(L):
        p = None
        for m in range(n, 0, -1):
            js = [j for j in range(L) if masks[m][i][j]]
            if js: p = argmax_hist([x[j] for j in js]); break
        if p is None: p = x[0] if i == 0 else argmax_hist(x[:i])
        out.append(p)
    return out
s = "bccbc|a|daadda|adcacb|adbdc|dd|ab|bc|ba|bcccba|adecbb|aa|ab|aebc"
x = [18 if c == '|' else ord(c) - 97 for c in s]
ch = lambda t: '|' if t == 18 else chr(97 + t)
for n in (1, 2, 3):
    print(n, "".join(ch(t) for t in predict(x, n)))
