// Package report reads the Merge to Learn results table (Morrison et al.
// 2024, results/consistent_mix/results.csv of the authors' working repo)
// and recomputes the paper's scores, Table 2 rows and trade-off curves.
//
// Scores, as in the paper (0–100):
//   - General = mean(mmlu_0shot, gsm_cot, bbh_cot, truthfulqa, alpaca_eval/100)·100
//   - Science = mean_null_TEST·100 (validation: mean_null·100)
//   - Safety  = mean(1−toxigen, 1−harmbench/100, 1−unsafe_average/100)·100
//   - Coding  = mean(codex_eval_plus_temp_0.8, mbpp_temp_0.8)·100
//
// Recipes: the general model alone is llama_2_7b-tulu_all; retraining (RT)
// trains the base on the general mix plus the skill data; continued
// fine-tuning (CFT) trains the general model (tulu_2_7b) on the skill data;
// parallel train-then-merge (PTM) is task arithmetic of the general vector
// (weight 1.0) and the skill vector (weight ω) over llama_2_7b.
package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Skills lists the skills the table has.
var Skills = []string{"science", "safety", "coding"}

// Recipe classes.
const (
	General = "general"   // the general model alone
	RT      = "retrain"   // base trained on general + skill data
	CFT     = "continued" // general model fine-tuned on the skill data
	Skill   = "skill"     // base trained on the skill data alone
	PTM     = "merge"     // task arithmetic, general weight 1, skill weight ω
	Other   = "other_merge"
)

// Row is one evaluated model.
type Row struct {
	Key           string
	Class         string
	Method        string // merge_method; "N/A" for trained models
	Base          string
	GeneralModel  string
	GeneralWeight float64
	Domain        string // e.g. science_2500
	Amount        int    // the domain's data amount, 0 if none
	SkillWeight   float64
	General       float64
	Skill         float64 // on test
	Validation    float64 // NaN where the table has no validation split
	Line          int     // line in the CSV
}

// Load reads the table and keeps the rows where skill and General are
// evaluated (plus the general model alone). Errors name file:line.
func Load(path, skill string) ([]Row, error) {
	if !slices.Contains(Skills, skill) {
		return nil, fmt.Errorf("unknown skill %q; use one of %v", skill, Skills)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading the header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	need := []string{"model_key", "base_model", "tulu_model", "tulu_model_weight", "domain_model", "domain_model_weight", "merge_method",
		"mmlu_0shot", "gsm_cot", "bbh_cot", "truthfulqa", "alpaca_eval"}
	need = append(need, skillColumns(skill)...)
	for _, c := range need {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: no column %q", path, c)
		}
	}
	var rows []Row
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		num := func(name string) (float64, error) {
			s := strings.TrimSpace(rec[col[name]])
			if s == "" {
				return math.NaN(), nil
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("%s:%d: column %s: %q is not a number", path, line, name, s)
			}
			return v, nil
		}
		row := Row{Key: rec[col["model_key"]], Method: rec[col["merge_method"]], Base: rec[col["base_model"]],
			GeneralModel: rec[col["tulu_model"]], Domain: rec[col["domain_model"]], Line: line}
		vals := map[string]float64{}
		for _, c := range need[7:] {
			if vals[c], err = num(c); err != nil {
				return nil, err
			}
		}
		for _, c := range []string{"tulu_model_weight", "domain_model_weight"} {
			if vals[c], err = num(c); err != nil {
				return nil, err
			}
		}
		row.GeneralWeight, row.SkillWeight = vals["tulu_model_weight"], vals["domain_model_weight"]
		row.General = (vals["mmlu_0shot"] + vals["gsm_cot"] + vals["bbh_cot"] + vals["truthfulqa"] + vals["alpaca_eval"]/100) / 5 * 100
		row.Skill, row.Validation = skillScore(skill, vals)
		row.Class = classify(row)
		isSkill := strings.HasPrefix(row.Domain, skill+"_")
		if isSkill {
			a, err := strconv.Atoi(strings.TrimPrefix(row.Domain, skill+"_"))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: domain_model %q: no data amount after %q", path, line, row.Domain, skill+"_")
			}
			row.Amount = a
		}
		if (isSkill || row.Class == General) && !math.IsNaN(row.Skill) && !math.IsNaN(row.General) {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows with %s and General evaluated", path, skill)
	}
	return rows, nil
}

func skillColumns(skill string) []string {
	switch skill {
	case "science":
		return []string{"mean_null_TEST", "mean_null"}
	case "safety":
		return []string{"toxigen", "harmbench", "unsafe_average"}
	default:
		return []string{"codex_eval_plus_temp_0.8", "mbpp_temp_0.8"}
	}
}

func skillScore(skill string, v map[string]float64) (test, validation float64) {
	switch skill {
	case "science":
		return v["mean_null_TEST"] * 100, v["mean_null"] * 100
	case "safety":
		return (3 - v["toxigen"] - v["harmbench"]/100 - v["unsafe_average"]/100) / 3 * 100, math.NaN()
	default:
		return (v["codex_eval_plus_temp_0.8"] + v["mbpp_temp_0.8"]) / 2 * 100, math.NaN()
	}
}

func classify(r Row) string {
	switch {
	case r.Method == "N/A" && r.Domain == "None" && r.GeneralModel == "tulu_all" && r.Base == "llama_2_7b":
		return General
	case r.Method == "N/A" && r.Base == "llama_2_7b" && r.GeneralModel == "tulu_none":
		return Skill
	case r.Method == "N/A" && r.Base == "llama_2_7b":
		return RT
	case r.Method == "N/A" && r.Base == "tulu_2_7b":
		return CFT
	case r.Method == "task_arithmetic" && r.Base == "llama_2_7b" && r.GeneralModel == "tulu_all" && r.GeneralWeight == 1:
		return PTM
	case r.Method == "N/A":
		return "trained_other"
	}
	return Other
}

// Choice is a model picked by a rule.
type Choice struct {
	Rule       string  `json:"rule"`
	Key        string  `json:"model_key"`
	General    float64 `json:"general"`
	Skill      float64 `json:"skill"`
	Validation float64 `json:"validation,omitempty"`
	Weight     float64 `json:"skill_weight,omitempty"`
	Amount     int     `json:"amount,omitempty"`
}

func choice(rule string, r Row) Choice {
	c := Choice{Rule: rule, Key: r.Key, General: r.General, Skill: r.Skill, Validation: r.Validation, Amount: r.Amount}
	if r.Class == PTM {
		c.Weight = r.SkillWeight
	}
	if math.IsNaN(c.Validation) {
		c.Validation = 0
	}
	return c
}

// PaperTable2 are the model keys of the paper's Table 2 rows (science):
// the paper reports their scores; Summary recomputes them from the table.
var PaperTable2 = map[string]string{
	"general only":     "llama_2_7b-tulu_all",
	"best retraining":  "llama_2_7b-tulu_all-science_500",
	"best merge (PTM)": "task_arithmetic-llama_2_7b-tulu_all_1.0-llama_2_7b-tulu_none-science_2500_0.6",
}

// Summary is the report.
type Summary struct {
	Skill    string            `json:"skill"`
	Rows     int               `json:"rows"`
	Baseline Choice            `json:"general_only"`
	Paper    map[string]Choice `json:"paper_table2,omitempty"`
	// Picks by rule: best by the test score (what a reader of the test
	// table would pick) and by the validation split (what one could pick
	// without peeking), per recipe.
	Picks         []Choice `json:"picks"`
	BestRT        Choice   `json:"best_retrain"`
	BestMerge     Choice   `json:"best_merge"`
	BestMergeVal  Choice   `json:"best_merge_by_validation"`
	Disagreements []string `json:"disagreements"`
}

// Summarize applies the selection rules. The paper's Table 2 choices are
// not one rule: its best retraining run is the one with the best
// validation score (test would pick science_2500), its best merge is the
// test-best ω among merges with the full skill data (validation would
// pick ω = 0.5 there, and science_1000 at ω = 0.6 over all amounts).
func Summarize(rows []Row, skill string) (Summary, error) {
	s := Summary{Skill: skill, Rows: len(rows)}
	byKey := map[string]Row{}
	for _, r := range rows {
		byKey[r.Key] = r
	}
	base, ok := byKey[PaperTable2["general only"]]
	if !ok {
		return s, fmt.Errorf("no row %q (the general model alone)", PaperTable2["general only"])
	}
	s.Baseline = choice("general model alone", base)
	if skill == "science" {
		s.Paper = map[string]Choice{}
		for name, key := range PaperTable2 {
			r, ok := byKey[key]
			if !ok {
				return s, fmt.Errorf("no row %q (paper Table 2, %s)", key, name)
			}
			s.Paper[name] = choice("paper Table 2: "+name, r)
		}
	}
	class := func(c string) func(Row) bool { return func(r Row) bool { return r.Class == c } }
	full := 0
	for _, r := range rows {
		if r.Class == PTM {
			full = max(full, r.Amount)
		}
	}
	fullPTM := func(r Row) bool { return r.Class == PTM && r.Amount == full }
	test := func(r Row) float64 { return r.Skill }
	val := func(r Row) float64 { return r.Validation }
	hasVal := best(rows, class(RT), val).Key != ""
	pick := func(rule string, keep func(Row) bool, score func(Row) float64) Choice {
		r := best(rows, keep, score)
		if r.Key == "" {
			return Choice{Rule: rule + " (no rows)"}
		}
		c := choice(rule, r)
		s.Picks = append(s.Picks, c)
		return c
	}
	rtTest := pick("retraining, best skill score on test", class(RT), test)
	pick("continued fine-tuning, best skill score on test", class(CFT), test)
	mergeTest := pick("merge, best skill score on test (any amount)", class(PTM), test)
	fullTest := pick(fmt.Sprintf("merge of the full skill data (%d), best ω on test", full), fullPTM, test)
	s.BestRT, s.BestMerge, s.BestMergeVal = rtTest, fullTest, fullTest
	if hasVal {
		rtVal := pick("retraining, best on validation", class(RT), val)
		pick("continued fine-tuning, best on validation", class(CFT), val)
		mergeVal := pick("merge, best on validation (any amount)", class(PTM), val)
		fullVal := pick(fmt.Sprintf("merge of the full skill data (%d), best ω on validation", full), fullPTM, val)
		s.BestRT, s.BestMergeVal = rtVal, fullVal
		if rtVal.Key != rtTest.Key {
			s.Disagreements = append(s.Disagreements, fmt.Sprintf("retraining: validation picks %s (%.1f/%.1f), test would pick %s (%.1f/%.1f)",
				rtVal.Key, rtVal.General, rtVal.Skill, rtTest.Key, rtTest.General, rtTest.Skill))
		}
		if fullVal.Key != fullTest.Key {
			s.Disagreements = append(s.Disagreements, fmt.Sprintf("merge at %s_%d: validation picks ω = %g (%.1f/%.1f, validation %.2f), test picks ω = %g (%.1f/%.1f, validation %.2f)",
				skill, full, fullVal.Weight, fullVal.General, fullVal.Skill, fullVal.Validation, fullTest.Weight, fullTest.General, fullTest.Skill, fullTest.Validation))
		}
		if mergeVal.Key != fullVal.Key {
			s.Disagreements = append(s.Disagreements, fmt.Sprintf("merge over all skill amounts: validation picks %s (%.1f/%.1f), not a full-data merge",
				mergeVal.Key, mergeVal.General, mergeVal.Skill))
		}
	} else {
		s.Disagreements = append(s.Disagreements, fmt.Sprintf("%s has no validation split in the table: best by validation falls back to the test score", skill))
	}
	if mergeTest.Key != fullTest.Key {
		s.Disagreements = append(s.Disagreements, fmt.Sprintf("merge over all skill amounts: test picks %s (%.1f/%.1f)", mergeTest.Key, mergeTest.General, mergeTest.Skill))
	}
	if s.Paper != nil {
		for _, c := range []struct{ paper, ours string }{{"best retraining", s.BestRT.Key}, {"best merge (PTM)", s.BestMergeVal.Key}} {
			if p := s.Paper[c.paper]; p.Key != c.ours {
				s.Disagreements = append(s.Disagreements, fmt.Sprintf("paper's %s is %s (%.1f/%.1f); best by validation is %s",
					c.paper, p.Key, p.General, p.Skill, c.ours))
			}
		}
	}
	return s, nil
}

// best is the row that keep accepts with the highest score (NaN scores
// never win; ties go to the earlier line).
func best(rows []Row, keep func(Row) bool, score func(Row) float64) Row {
	var out Row
	top := math.Inf(-1)
	for _, r := range rows {
		if v := score(r); keep(r) && !math.IsNaN(v) && v > top {
			out, top = r, v
		}
	}
	return out
}

// Curves groups the merges of each skill amount into trade-off curves
// sorted by ω: the paper's figures.
func Curves(rows []Row) map[int][]Row {
	out := map[int][]Row{}
	for _, r := range rows {
		if r.Class == PTM {
			out[r.Amount] = append(out[r.Amount], r)
		}
	}
	for _, rs := range out {
		sort.Slice(rs, func(i, j int) bool { return rs[i].SkillWeight < rs[j].SkillWeight })
	}
	return out
}
