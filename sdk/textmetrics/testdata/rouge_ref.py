"""Python reference for sdk/textmetrics: rouge_score's tokenize and LCS
ROUGE-L, reimplemented faithfully (rouge_score is not packaged by Debian) on
NLTK's PorterStemmer (Debian's python3-nltk).

Modes (stdin -> stdout):
  stem      one word per line -> one stem per line
  tokenize  one JSON string per line -> one JSON token list per line
  rougel    JSON [[target, prediction], ...] -> JSON [[p, r, f], ...] and, on
            stderr, "seconds=S" for the scoring alone
"""
import json
import re
import sys
import time

from nltk.stem import porter

NON_ALPHANUM_RE = re.compile(r"[^a-z0-9]+")
SPACES_RE = re.compile(r"\s+")
VALID_TOKEN_RE = re.compile(r"^[a-z0-9]+$")
STEMMER = porter.PorterStemmer()


def tokenize(text, stemmer=STEMMER):
    # rouge_score/tokenize.py
    text = text.lower()
    text = NON_ALPHANUM_RE.sub(" ", text)
    tokens = SPACES_RE.split(text)
    if stemmer:
        tokens = [stemmer.stem(x) if len(x) > 3 else x for x in tokens]
    return [x for x in tokens if VALID_TOKEN_RE.match(x)]


def lcs_table(ref, can):
    # rouge_score/rouge_scorer.py _lcs_table
    rows, cols = len(ref), len(can)
    table = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            if ref[i - 1] == can[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


def score_lcs(target, prediction):
    # rouge_score/rouge_scorer.py _score_lcs and scoring.fmeasure
    if not target or not prediction:
        return (0.0, 0.0, 0.0)
    lcs = lcs_table(target, prediction)[-1][-1]
    p, r = lcs / len(prediction), lcs / len(target)
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return (p, r, f)


def main():
    mode = sys.argv[1]
    if mode == "stem":
        out = [STEMMER.stem(w) for w in sys.stdin.read().split("\n") if w]
        sys.stdout.write("\n".join(out) + "\n")
    elif mode == "tokenize":
        for line in sys.stdin:
            sys.stdout.write(json.dumps(tokenize(json.loads(line))) + "\n")
    elif mode == "rougel":
        pairs = json.load(sys.stdin)
        start = time.perf_counter()
        scores = [score_lcs(tokenize(t), tokenize(p)) for t, p in pairs]
        sys.stderr.write("seconds=%f\n" % (time.perf_counter() - start))
        json.dump(scores, sys.stdout)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
