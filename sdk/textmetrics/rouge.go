package textmetrics

// Score is a precision/recall/F1 triple, as rouge_score's Score.
type Score struct {
	Precision, Recall, F1 float64
}

// LCSLength is the length of the longest common subsequence of a and b.
func LCSLength(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(b) > len(a) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		ai := a[i-1]
		for j := 1; j <= len(b); j++ {
			switch {
			case ai == b[j-1]:
				cur[j] = prev[j-1] + 1
			case prev[j] >= cur[j-1]:
				cur[j] = prev[j]
			default:
				cur[j] = cur[j-1]
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeL is rouge_score's _score_lcs(target, prediction): precision is the
// LCS over the prediction's length, recall over the target's, F1 their
// harmonic mean; all zero when either side is empty.
func RougeL(target, prediction []string) Score {
	if len(target) == 0 || len(prediction) == 0 {
		return Score{}
	}
	lcs := float64(LCSLength(target, prediction))
	return newScore(lcs/float64(len(prediction)), lcs/float64(len(target)))
}

// RougeLText tokenizes both texts with [Tokenize] and scores them, as
// RougeScorer(["rougeL"], use_stemmer=True).score(target, prediction).
func RougeLText(target, prediction string) Score {
	return RougeL(Tokenize(target), Tokenize(prediction))
}

func newScore(p, r float64) Score {
	s := Score{Precision: p, Recall: r}
	if p+r > 0 {
		s.F1 = 2 * p * r / (p + r)
	}
	return s
}
