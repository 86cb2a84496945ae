// Package features computes the reference's lexical routing features
// (token-length difference, prompt length, shorter/longer response length,
// ROUGE-L and bag-of-words cosine between the responses), bins each into
// three bins, and one-hot encodes metadata tags, giving a binary
// instance × feature matrix.
package features

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/sdk/textmetrics"
)

// Tokenize lower-cases and splits on anything that is not a letter or digit.
// It stands in for the reference's LLaMA tokenizer, which needs a model
// download: lengths are counted in words, which ranks instances nearly the
// same way once turned into percentiles.
func Tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Scalars are the raw lexical values of one instance.
type Scalars struct {
	TokenLenDiff, PromptLen, LenShorter, LenLonger float64
	Rouge, Cosine                                  float64
}

// maxLCS caps the tokens ROUGE-L compares (quadratic cost); beyond a few
// hundred tokens the score barely moves.
const maxLCS = 600

// RougeL is the ROUGE-L F-measure between two token sequences
// (textmetrics.RougeL on the router's unstemmed word tokens).
func RougeL(a, b []string) float64 {
	if len(a) > maxLCS {
		a = a[:maxLCS]
	}
	if len(b) > maxLCS {
		b = b[:maxLCS]
	}
	return textmetrics.RougeL(a, b).F1
}

// BowCosine is the cosine between the two responses' word-count vectors.
func BowCosine(a, b []string) float64 {
	ca, cb := map[string]float64{}, map[string]float64{}
	for _, t := range a {
		ca[t]++
	}
	for _, t := range b {
		cb[t]++
	}
	var dot, na, nb float64
	for t, x := range ca {
		na += x * x
		dot += x * cb[t]
	}
	for _, y := range cb {
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Compute returns the lexical scalars of each instance.
func Compute(insts []prefdata.Instance) []Scalars {
	out := make([]Scalars, len(insts))
	for i, in := range insts {
		p, a, b := Tokenize(in.Prompt), Tokenize(in.A), Tokenize(in.B)
		la, lb := float64(len(a)), float64(len(b))
		out[i] = Scalars{
			TokenLenDiff: math.Abs(la - lb),
			PromptLen:    float64(len(p)),
			LenShorter:   math.Min(la, lb),
			LenLonger:    math.Max(la, lb),
			Rouge:        RougeL(a, b),
			Cosine:       BowCosine(a, b),
		}
	}
	return out
}

// PercentileRanks maps values to their average-rank percentile in (0,1], as
// pandas' rank(pct=True) does in the reference (ties share the mean rank).
func PercentileRanks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	out := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		rank := float64(i+j)/2 + 1 // mean of 1-based ranks i+1..j+1
		for k := i; k <= j; k++ {
			out[idx[k]] = rank / float64(len(v))
		}
		i = j + 1
	}
	return out
}

// NBins is the number of bins per lexical feature, as in the reference.
const NBins = 3

// binEdges gives the reference's bin names: 0.0-0.33, 0.33-0.67, 0.67-1.0.
var binEdges = [NBins + 1]string{"0.0", "0.33", "0.67", "1.0"}

// binCuts are the reference's rounded bin edges (round(edge, 2)); it names
// and filters its bins with them, so 1/3 falls in the middle bin.
var binCuts = [NBins - 1]float64{0.33, 0.67}

// Bin maps a value in [0,1] to its bin.
func Bin(x float64) int {
	for b, c := range binCuts {
		if x < c {
			return b
		}
	}
	return NBins - 1
}

// BinName is the reference's name of a lexical feature bin, e.g.
// "rouge__min_val=0.33|max_val=0.67" (the column names of its proxy-RM
// result rows).
func BinName(feature string, bin int) string {
	return fmt.Sprintf("%s__min_val=%s|max_val=%s", feature, binEdges[bin], binEdges[bin+1])
}

// TagName is the one-hot feature name of a tag value, e.g.
// "subject_of_expertise=Computer_sciences"; existence tags
// (format_constraints) become "format_constraints=1".
func TagName(dim, value string) string {
	return dim + "=" + strings.ReplaceAll(strings.TrimSpace(value), " ", "_")
}

// existenceTags are open-set dimensions the reference only checks for
// presence.
var existenceTags = map[string]bool{"format_constraints": true, "type_of_in_context_material": true}

// Lexical feature names in column order; each gets NBins columns.
var Lexical = []string{"token_len_difference", "prompt_len", "len_shorter", "len_longer", "rouge", "cosine_sim"}

// Matrix is the binary instance × feature matrix.
type Matrix struct {
	Names []string
	N     int
	// Data is row-major N × len(Names), 0 or 1.
	Data []float32
	// Scalars are the raw lexical values, for reports.
	Scalars []Scalars
}

// At reports whether instance i has feature j.
func (m *Matrix) At(i, j int) bool { return m.Data[i*len(m.Names)+j] != 0 }

// Index returns the column of a feature name, or -1.
func (m *Matrix) Index(name string) int {
	for j, n := range m.Names {
		if n == name {
			return j
		}
	}
	return -1
}

// Counts returns, per feature, how many instances have it.
func (m *Matrix) Counts() []int {
	f := len(m.Names)
	c := make([]int, f)
	for i := 0; i < m.N; i++ {
		for j := 0; j < f; j++ {
			if m.Data[i*f+j] != 0 {
				c[j]++
			}
		}
	}
	return c
}

// Build computes the feature matrix: 6 lexical features × 3 bins, then one
// column per (tag dimension, value) present in the data. Length features are
// percentile-ranked over the data set before binning, as in the reference;
// ROUGE-L and cosine are already in [0,1].
func Build(insts []prefdata.Instance) *Matrix {
	sc := Compute(insts)
	n := len(insts)
	cols := make([][]float64, len(Lexical))
	for k := range cols {
		cols[k] = make([]float64, n)
	}
	for i, s := range sc {
		cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i] =
			s.TokenLenDiff, s.PromptLen, s.LenShorter, s.LenLonger, s.Rouge, s.Cosine
	}
	for k := 0; k < 4; k++ {
		cols[k] = PercentileRanks(cols[k])
	}
	var names []string
	for _, f := range Lexical {
		for b := 0; b < NBins; b++ {
			names = append(names, BinName(f, b))
		}
	}
	tagCol := map[string]int{}
	tv := prefdata.TagValues(insts)
	dims := make([]string, 0, len(tv))
	for d := range tv {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	for _, d := range dims {
		if existenceTags[d] {
			tagCol[TagName(d, "1")] = len(names)
			names = append(names, TagName(d, "1"))
			continue
		}
		for _, v := range tv[d] {
			name := TagName(d, v)
			if _, dup := tagCol[name]; dup {
				continue
			}
			tagCol[name] = len(names)
			names = append(names, name)
		}
	}
	f := len(names)
	data := make([]float32, n*f)
	for i, in := range insts {
		for k := range Lexical {
			data[i*f+k*NBins+Bin(cols[k][i])] = 1
		}
		for d, vs := range in.Tags {
			if existenceTags[d] {
				if len(vs) > 0 && vs[0] != "0" && vs[0] != "false" {
					data[i*f+tagCol[TagName(d, "1")]] = 1
				}
				continue
			}
			for _, v := range vs {
				data[i*f+tagCol[TagName(d, v)]] = 1
			}
		}
	}
	return &Matrix{Names: names, N: n, Data: data, Scalars: sc}
}
