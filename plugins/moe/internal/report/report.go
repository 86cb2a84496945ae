// Package report turns a finished MoE run into OLMoE's analyses: the
// numbers (analysis.json), the per-domain specialisation table beside
// OLMoE-1B-7B's (specialisation.txt) and the plots.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/experiment"
)

// File is one written file: artifact name, path relative to the report
// directory, media type.
type File struct {
	Name, Rel, MediaType string
}

// DomainRow is one domain at one layer.
type DomainRow struct {
	Domain     string    `json:"domain"`
	TopExperts []int     `json:"top_experts"`
	TopSpec    []float64 `json:"top_spec"`
	MinSpec    float64   `json:"min_spec"`
	// TopOverUniform is the top expert's spec divided by 100·k/E, the
	// scale-free figure comparable with OLMoE's.
	TopOverUniform float64 `json:"top_over_uniform"`
	// TopLift is the lift of the top expert (its share of the domain's
	// assignments ÷ its share of all assignments): TopOverUniform with the
	// expert's load divided out instead of the uniform share. Divergence the Jensen–Shannon divergence (bits) of the domain's
	// expert distribution from the overall one. Both are ≈ their shuffled
	// control when experts did not specialise by domain, whatever the load.
	TopLift    float64 `json:"top_lift"`
	Divergence float64 `json:"divergence"`
}

// Summary holds every analysis figure.
type Summary struct {
	Domains   []string `json:"domains"`
	Experts   int      `json:"experts"`
	TopK      int      `json:"top_k"`
	Uniform   float64  `json:"uniform_spec"`
	Steps     int      `json:"steps"`
	FinalLoss float64  `json:"final_train_loss"`
	// DomainSpec[layer] rows, one per domain.
	DomainSpec [][]DomainRow `json:"domain_specialisation"`
	// FullSpec[layer][domain][expert]: every expert's spec.
	FullSpec [][][]float64 `json:"domain_specialisation_full"`
	// Lift[layer][domain][expert], the load-adjusted specialisation;
	// Divergence[layer], the token-weighted mean over domains of their
	// Jensen–Shannon divergence from the overall expert distribution;
	// Control[layer], both on shuffled pseudo-domains.
	Lift       [][][]float64      `json:"lift"`
	Divergence []float64          `json:"divergence"`
	Control    []analysis.Control `json:"shuffled_control"`
	// VocabSpec[layer], and the number of token ids it averages over.
	VocabSpec    []float64 `json:"vocab_specialisation"`
	VocabIDs     []int     `json:"vocab_ids"`
	SnapshotStep []int     `json:"snapshot_steps"`
	// Saturation[layer][snapshot] against the final model.
	Saturation [][]float64 `json:"saturation"`
	// Load[layer][snapshot][expert]: share of assignments.
	Load [][][]float64 `json:"load"`
	// CoActivation[layer][a][b] = P(b|a); CoActivationAdjacent: OLMoE's
	// released code's variant counting only rank-adjacent pairs.
	CoActivation         [][][]float64 `json:"coactivation"`
	CoActivationAdjacent [][][]float64 `json:"coactivation_rank_adjacent"`
	// Work of the sparse path: rows computed per layer (mean over the
	// evaluation batches) against the dense path's E·T.
	SparseRows float64 `json:"sparse_rows"`
	BoundRows  float64 `json:"bound_rows"`
	DenseRows  float64 `json:"dense_rows"`
	// OLMoE comparison (real data only).
	Pattern string `json:"olmoe_pattern,omitempty"`
}

// Analyse computes the summary of a run.
func Analyse(res *experiment.Result, vocabMinCount int) (*Summary, error) {
	final := res.Final()
	if len(final.Layers) == 0 {
		return nil, fmt.Errorf("run has no recorded routing")
	}
	k, E := final.Layers[0].K, final.Layers[0].E
	s := &Summary{Domains: res.Domains, Experts: E, TopK: k, Uniform: analysis.Uniform(k, E),
		Steps: res.Train.Steps, FinalLoss: res.Train.FinalLoss,
		SparseRows: res.UsedRows, BoundRows: res.BoundRows, DenseRows: res.DenseRows}
	for _, sn := range res.Snapshots {
		s.SnapshotStep = append(s.SnapshotStep, sn.Step)
	}
	// The shuffled control moves whole evaluation windows.
	window := 1
	if res.Model != nil {
		window = res.Model.Config.MaxSeqLen
	}
	for l, r := range final.Layers {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("layer %d: %w", l, err)
		}
		spec := analysis.DomainSpec(r, res.EvalDomain, len(res.Domains))
		shares, overall := analysis.Shares(r, res.EvalDomain, len(res.Domains))
		lift := analysis.Lift(shares, overall)
		div, weighted := analysis.Divergence(shares, overall, res.EvalDomain)
		var rows []DomainRow
		for d, row := range spec {
			ex, vals := analysis.Top(row, 3)
			mn := row[0]
			for _, v := range row {
				mn = min(mn, v)
			}
			rows = append(rows, DomainRow{Domain: res.Domains[d], TopExperts: ex, TopSpec: vals, MinSpec: mn, TopOverUniform: vals[0] / s.Uniform,
				TopLift: lift[d][ex[0]], Divergence: div[d]})
		}
		s.DomainSpec = append(s.DomainSpec, rows)
		s.FullSpec = append(s.FullSpec, spec)
		s.Lift = append(s.Lift, lift)
		s.Divergence = append(s.Divergence, weighted)
		s.Control = append(s.Control, analysis.ShuffledControl(r, res.EvalDomain, len(res.Domains), window, analysis.ControlShuffles, uint64(l)+1))
		vs, n := analysis.VocabSpec(r, res.EvalToken, vocabMinCount)
		s.VocabSpec = append(s.VocabSpec, vs)
		s.VocabIDs = append(s.VocabIDs, n)
		var sat []float64
		var load [][]float64
		for _, sn := range res.Snapshots {
			v, err := analysis.Saturation(sn.Layers[l], r)
			if err != nil {
				return nil, fmt.Errorf("layer %d, step %d: %w", l, sn.Step, err)
			}
			sat = append(sat, v)
			load = append(load, analysis.Load(sn.Layers[l]))
		}
		s.Saturation = append(s.Saturation, sat)
		s.Load = append(s.Load, load)
		s.CoActivation = append(s.CoActivation, analysis.CoActivation(r, false))
		s.CoActivationAdjacent = append(s.CoActivationAdjacent, analysis.CoActivation(r, true))
	}
	return s, nil
}

// Specialised reports whether layer l's routing depends on the domain
// beyond the noise floor: the divergence is above the largest the shuffled
// control reached in 95% of its shuffles.
func (s *Summary) Specialised(l int) bool {
	return s.Divergence[l] > s.Control[l].DivergenceP95
}

// Verdict says in words what Specialised says, with the ratio to the floor.
func (s *Summary) Verdict(l int) string {
	ratio := s.Divergence[l] / max(s.Control[l].DivergenceMean, 1e-12)
	if s.Specialised(l) {
		return fmt.Sprintf("specialised by domain (%.1f× the control)", ratio)
	}
	return fmt.Sprintf("NOT distinguishable from the shuffled control (%.1f× its mean)", ratio)
}

// refLayerFor maps our layer l of L onto the reference's layers by relative
// depth (first ↔ first, last ↔ last).
func refLayerFor(l, L int, ref []int) int {
	if L <= 1 {
		return ref[len(ref)-1]
	}
	pos := float64(l) / float64(L-1)
	best, bestD := ref[0], 2.0
	for _, r := range ref {
		rp := float64(r-ref[0]) / float64(ref[len(ref)-1]-ref[0])
		if d := abs(rp - pos); d < bestD {
			best, bestD = r, d
		}
	}
	return best
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Table renders the specialisation table, with OLMoE's figures beside ours
// when ref is given (OLMoE-1B-7B: E=64, k=8, uniform 12.5).
func (s *Summary) Table(ref analysis.Reference) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Domain specialisation spec(e,D) = 100·k·count(e in top-k | D)/assignments(D); uniform = 100·%d/%d = %.1f\n", s.TopK, s.Experts, s.Uniform)
	if ref != nil {
		b.WriteString("OLMoE-1B-7B (E=64, k=8, uniform 12.5) at the layer of matching relative depth; ×u = top spec / uniform\n")
	}
	refLayers := ref.Layers()
	for l, rows := range s.DomainSpec {
		rl := -1
		if ref != nil {
			rl = refLayerFor(l, len(s.DomainSpec), refLayers)
			fmt.Fprintf(&b, "\nLayer %d (OLMoE layer %d)\n", l, rl)
		} else {
			fmt.Fprintf(&b, "\nLayer %d\n", l)
		}
		fmt.Fprintf(&b, "  %-34s %-30s %6s %6s %8s", "domain", "ours: top3 (expert, spec%)", "×u", "lift", "JS bits")
		if ref != nil {
			fmt.Fprintf(&b, "   %-30s %6s", "OLMoE: top3 (expert, spec%)", "×u")
		}
		b.WriteString("\n")
		for _, r := range rows {
			var top []string
			for i := range r.TopExperts {
				top = append(top, fmt.Sprintf("(%d, %.1f)", r.TopExperts[i], r.TopSpec[i]))
			}
			fmt.Fprintf(&b, "  %-34s %-30s %6.2f %6.2f %8.4f", r.Domain, strings.Join(top, " "), r.TopOverUniform, r.TopLift, r.Divergence)
			if ref != nil {
				if e, ok := ref[rl][analysis.ReferenceDomain(r.Domain)]; ok {
					var rt []string
					for _, p := range e.Top {
						rt = append(rt, fmt.Sprintf("(%d, %.1f)", p.Expert, p.Spec))
					}
					fmt.Fprintf(&b, "   %-30s %6.2f", strings.Join(rt, " "), e.Top[0].Spec/12.5)
				} else {
					fmt.Fprintf(&b, "   %-30s", "(no reference)")
				}
			}
			b.WriteString("\n")
		}
		if l < len(s.Control) {
			c := s.Control[l]
			fmt.Fprintf(&b, "  shuffled-domain control (%d shuffles): top lift %.2f (p95 %.2f), divergence %.4f (p95 %.4f); ours %.4f: %s\n",
				c.Shuffles, c.TopLiftMean, c.TopLiftP95, c.DivergenceMean, c.DivergenceP95, s.Divergence[l], s.Verdict(l))
		}
	}
	b.WriteString("\n×u is OLMoE's figure (top spec ÷ uniform): a busy expert reads as specialised for every domain. Lift divides by the\n" +
		"expert's share over all domains, JS is the divergence of the domain's expert distribution from the overall one; compare\n" +
		"both with the shuffled control to answer \"did experts specialise by domain?\"\n")
	if s.Pattern != "" {
		fmt.Fprintf(&b, "\n%s\n", s.Pattern)
	}
	fmt.Fprintf(&b, "\nVocabulary specialisation per layer: %s\n", fmtList(s.VocabSpec))
	if n := len(s.Saturation); n > 0 {
		var last []float64
		for _, sat := range s.Saturation {
			if len(sat) > 1 {
				last = append(last, sat[(len(sat)-1)/2])
			}
		}
		fmt.Fprintf(&b, "Router saturation at mid-training (step %d) vs final, per layer: %s\n", s.SnapshotStep[(len(s.SnapshotStep)-1)/2], fmtList(last))
	}
	fmt.Fprintf(&b, "Sparse path: %.0f expert rows per layer (static bound %.0f) vs dense %.0f: %.2f× less work\n", s.SparseRows, s.BoundRows, s.DenseRows, s.DenseRows/max(s.BoundRows, 1))
	return b.String()
}

func fmtList(xs []float64) string {
	var p []string
	for _, x := range xs {
		p = append(p, fmt.Sprintf("%.3f", x))
	}
	return "[" + strings.Join(p, ", ") + "]"
}

// OLMoEPattern checks the paper's observation on real data: arXiv and
// GitHub specialise more than C4 and books (mean over layers of the top
// expert's spec). ok is false when the domains are not all present.
func (s *Summary) OLMoEPattern() (text string, holds, ok bool) {
	mean := map[string]float64{}
	for _, rows := range s.DomainSpec {
		for _, r := range rows {
			mean[analysis.ReferenceDomain(r.Domain)] += r.TopOverUniform / float64(len(s.DomainSpec))
		}
	}
	for _, d := range []string{"arxiv", "github", "c4", "book"} {
		if _, found := mean[d]; !found {
			return "", false, false
		}
	}
	holds = min(mean["arxiv"], mean["github"]) > max(mean["c4"], mean["book"])
	var names []string
	for d := range mean {
		names = append(names, d)
	}
	sort.Slice(names, func(i, j int) bool { return mean[names[i]] > mean[names[j]] })
	var parts []string
	for _, d := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", d, mean[d]))
	}
	verdict := "does not hold"
	if holds {
		verdict = "holds"
	}
	return fmt.Sprintf("OLMoE's pattern (arXiv and GitHub specialise more than C4 and books) %s here: top spec ×uniform, mean over layers: %s", verdict, strings.Join(parts, ", ")), holds, true
}

// Write saves analysis.json, specialisation.txt and the plots under dir.
func Write(dir string, s *Summary, ref analysis.Reference) ([]File, error) {
	if err := os.MkdirAll(filepath.Join(dir, "plots"), 0o755); err != nil {
		return nil, err
	}
	var files []File
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "analysis.json"), b, 0o644); err != nil {
		return nil, err
	}
	files = append(files, File{"analysis", "analysis.json", "application/json"})
	if err := os.WriteFile(filepath.Join(dir, "specialisation.txt"), []byte(s.Table(ref)), 0o644); err != nil {
		return nil, err
	}
	files = append(files, File{"specialisation", "specialisation.txt", "text/plain"})

	plot := func(name string, save func(base string) (string, string, error)) error {
		png, _, err := save(filepath.Join(dir, "plots", name))
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		rel, _ := filepath.Rel(dir, png)
		files = append(files, File{"plot_" + name, rel, "image/png"})
		rel = strings.TrimSuffix(rel, ".png") + ".svg"
		files = append(files, File{"plot_" + name + "_svg", rel, "image/svg+xml"})
		return nil
	}
	for l := range s.DomainSpec {
		full := s.FullSpec[l]
		if err := plot(fmt.Sprintf("domain_spec_layer%d", l), func(base string) (string, string, error) {
			return analysis.PlotDomainSpec(full, s.Domains, s.TopK, l, base)
		}); err != nil {
			return nil, err
		}
		if err := plot(fmt.Sprintf("load_layer%d", l), func(base string) (string, string, error) {
			return analysis.PlotLoad(s.SnapshotStep, s.Load[l], l, base)
		}); err != nil {
			return nil, err
		}
		if err := plot(fmt.Sprintf("coactivation_layer%d", l), func(base string) (string, string, error) {
			return analysis.PlotCoActivation(s.CoActivation[l], fmt.Sprintf("Expert co-activation P(b|a), layer %d (all top-%d pairs)", l, s.TopK), base)
		}); err != nil {
			return nil, err
		}
		if err := plot(fmt.Sprintf("coactivation_adjacent_layer%d", l), func(base string) (string, string, error) {
			return analysis.PlotCoActivation(s.CoActivationAdjacent[l], fmt.Sprintf("Co-activation, layer %d — rank-adjacent pairs only (OLMoE code variant)", l), base)
		}); err != nil {
			return nil, err
		}
	}
	lifts, divs := make([][]float64, len(s.DomainSpec)), make([][]float64, len(s.DomainSpec))
	var liftMean, liftP95, divMean, divP95 []float64
	for l, rows := range s.DomainSpec {
		for _, r := range rows {
			lifts[l] = append(lifts[l], r.TopLift)
			divs[l] = append(divs[l], r.Divergence)
		}
		c := s.Control[l]
		liftMean, liftP95 = append(liftMean, c.TopLiftMean), append(liftP95, c.TopLiftP95)
		divMean, divP95 = append(divMean, c.DivergenceMean), append(divP95, c.DivergenceP95)
	}
	if err := plot("lift", func(base string) (string, string, error) {
		return analysis.PlotVsControl("Load-adjusted specialisation: top lift per domain vs shuffled domains",
			"top lift (domain share ÷ overall share)", lifts, s.Domains, liftMean, liftP95, 1, base)
	}); err != nil {
		return nil, err
	}
	if err := plot("divergence", func(base string) (string, string, error) {
		return analysis.PlotVsControl("Domain vs overall expert distribution (Jensen–Shannon) vs shuffled domains",
			"JS divergence (bits)", divs, s.Domains, divMean, divP95, 0, base)
	}); err != nil {
		return nil, err
	}
	if err := plot("vocab_spec", func(base string) (string, string, error) {
		return analysis.PlotVocabSpec(s.VocabSpec, s.Experts, base)
	}); err != nil {
		return nil, err
	}
	if err := plot("saturation", func(base string) (string, string, error) {
		return analysis.PlotSaturation(s.SnapshotStep, s.Saturation, s.TopK, base)
	}); err != nil {
		return nil, err
	}
	return files, nil
}

// ControlOutputs are the plugin outputs of the load-adjusted analyses: the
// top expert's lift per domain at the last layer, the divergence per layer,
// and their shuffled-domain controls (95th percentiles).
func ControlOutputs(s *Summary) map[string]cty.Value {
	last := len(s.DomainSpec) - 1
	lift := map[string]cty.Value{}
	for _, r := range s.DomainSpec[last] {
		lift[r.Domain] = cty.NumberFloatVal(r.TopLift)
	}
	var div, ctrl []cty.Value
	for l, d := range s.Divergence {
		div = append(div, cty.NumberFloatVal(d))
		ctrl = append(ctrl, cty.NumberFloatVal(s.Control[l].DivergenceP95))
	}
	return map[string]cty.Value{
		"top_lift":           cty.MapVal(lift),
		"top_lift_control":   cty.NumberFloatVal(s.Control[last].TopLiftP95),
		"divergence":         cty.ListVal(div),
		"divergence_control": cty.ListVal(ctrl),
		"domain_specialised": cty.BoolVal(s.Specialised(last)),
	}
}
