// Command benchtextmetrics times ROUGE-L (rouge_score's stemmed tokenizer and
// LCS) over CopyBench's literal items, each against 10 candidates derived
// deterministically from its reference, in sdk/textmetrics and in a Python
// reference on NLTK's stemmer (sdk/textmetrics/testdata/rouge_ref.py, a small
// faithful reimplementation of rouge_score). It checks that both give the
// same scores, then prints
//
//	bench-textmetrics: items_s=N python_items_s=N ratio=R
//
// where an item is one literal item scored against all its candidates.
// The candidates hold copyrighted text: they go to the Python side through a
// pipe and are never written to disk.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/shammie-ml/shammie/sdk/textmetrics"
)

const candidatesPerItem = 10

func main() {
	data := flag.String("data", "../shared/data/copybench/data/data.literal.json", "CopyBench literal items (JSON array)")
	script := flag.String("script", "sdk/textmetrics/testdata/rouge_ref.py", "Python reference")
	python := flag.String("python", "/usr/bin/python3", "python3 with nltk")
	items := flag.Int("items", 0, "use only the first N items (0 = all)")
	minTime := flag.Duration("min-time", time.Second, "repeat the Go side until it has run this long")
	flag.Parse()
	if err := run(*data, *script, *python, *items, *minTime); err != nil {
		fmt.Fprintln(os.Stderr, "bench-textmetrics:", err)
		os.Exit(1)
	}
}

func run(data, script, python string, n int, minTime time.Duration) error {
	b, err := os.ReadFile(data)
	if err != nil {
		return err
	}
	var recs []struct{ Input, Reference string }
	if err := json.Unmarshal(b, &recs); err != nil {
		return fmt.Errorf("%s: %w", data, err)
	}
	if n > 0 && n < len(recs) {
		recs = recs[:n]
	}
	var pairs [][2]string
	for i, r := range recs {
		next := recs[(i+1)%len(recs)].Reference
		for _, c := range candidates(r.Reference, r.Input, next, uint64(i)) {
			pairs = append(pairs, [2]string{r.Reference, c})
		}
	}
	fmt.Printf("%d items x %d candidates\n", len(recs), candidatesPerItem)

	goScores := make([]textmetrics.Score, len(pairs))
	start := time.Now()
	reps := 0
	for reps == 0 || time.Since(start) < minTime {
		for i, p := range pairs {
			goScores[i] = textmetrics.RougeLText(p[0], p[1])
		}
		reps++
	}
	goSec := time.Since(start).Seconds() / float64(reps)

	in, _ := json.Marshal(pairs)
	cmd := exec.Command(python, script, "rougel")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("python reference: %v\n%s(needs Debian's python3-nltk: make textmetrics-deps)", err, stderr.String())
	}
	var pyScores [][3]float64
	if err := json.Unmarshal(out, &pyScores); err != nil {
		return fmt.Errorf("python reference output: %w", err)
	}
	pySec, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(stderr.String(), "seconds=")), 64)
	if err != nil {
		return fmt.Errorf("python reference timing %q: %w", stderr.String(), err)
	}
	if len(pyScores) != len(pairs) {
		return fmt.Errorf("python reference scored %d pairs of %d", len(pyScores), len(pairs))
	}
	worst, sumF := 0.0, 0.0
	for i, g := range goScores {
		p := pyScores[i]
		worst = max(worst, math.Abs(g.Precision-p[0]), math.Abs(g.Recall-p[1]), math.Abs(g.F1-p[2]))
		sumF += g.F1
	}
	fmt.Printf("agreement: max |go - python| = %g over %d pairs; mean F1 %.4f\n", worst, len(pairs), sumF/float64(len(pairs)))
	if worst > 1e-12 {
		return fmt.Errorf("ROUGE-L of the Go and Python sides disagree (max difference %g)", worst)
	}
	fmt.Printf("go: %.4fs per pass (%d passes); python: %.4fs\n", goSec, reps, pySec)
	goRate, pyRate := float64(len(recs))/goSec, float64(len(recs))/pySec
	fmt.Printf("bench-textmetrics: items_s=%.1f python_items_s=%.1f ratio=%.2f\n", goRate, pyRate, goRate/pyRate)
	return nil
}

// candidates derives 10 continuations from a reference: itself, word drops,
// swaps, substitutions, truncations, reordering, and unrelated text, so that
// scores spread over [0, 1].
func candidates(ref, input, other string, seed uint64) []string {
	w := strings.Fields(ref)
	rng := rand.New(rand.NewPCG(seed, 7))
	pick := func(keep func(i int) bool) string {
		var o []string
		for i, x := range w {
			if keep(i) {
				o = append(o, x)
			}
		}
		return strings.Join(o, " ")
	}
	swapped := append([]string(nil), w...)
	for i := 0; i+1 < len(swapped); i += 2 {
		swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
	}
	subst := append([]string(nil), w...)
	for i := 2; i < len(subst); i += 3 {
		subst[i] = "zzz"
	}
	rev := append([]string(nil), w...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	shuf := append([]string(nil), w...)
	rng.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
	in := strings.Fields(input)
	tail := strings.Join(in[max(0, len(in)-50):], " ")
	return []string{
		ref,
		pick(func(i int) bool { return i%5 != 4 }),
		strings.Join(swapped, " "),
		strings.Join(subst, " "),
		pick(func(i int) bool { return i < len(w)/2 }),
		strings.Join(rev, " "),
		tail,
		strings.Join(shuf, " "),
		other,
		strings.ToUpper(ref) + " " + ref,
	}
}
