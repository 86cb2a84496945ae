package pipeline

import (
	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/scoring"
)

// ItemScore is one item's scores; reports hold ids and numbers only (never
// the copyrighted text).
type ItemScore struct {
	ID         string   `json:"id"`
	Task       string   `json:"task"`
	Rouge      *float64 `json:"rouge_l,omitempty"`
	Characters *int     `json:"characters,omitempty"`
	Events     *int     `json:"events,omitempty"`
	F1         *float64 `json:"f1,omitempty"`
	EM         *bool    `json:"em,omitempty"`
	Trained    *bool    `json:"trained,omitempty"`
}

// Rates aggregates item scores as summary.py does.
type Rates struct {
	Literal      int     `json:"literal_items"`
	NonLiteral   int     `json:"nonliteral_items"`
	QA           int     `json:"qa_items"`
	LiteralRate  float64 `json:"literal_rate"`   // share with ROUGE-L >= 0.8
	CharRate     float64 `json:"character_rate"` // share with >= 3 characters
	EventRate    float64 `json:"event_rate"`     // share with >= 5 events
	MeanRouge    float64 `json:"mean_rouge_l"`
	QAF1         float64 `json:"qa_f1"`
	QAExactMatch float64 `json:"qa_em"`
}

func literalScore(it benchdata.Literal, out string) ItemScore {
	r := scoring.Literal(it.Reference, out)
	return ItemScore{ID: it.ID, Task: "literal", Rouge: &r}
}

func nonLiteralScore(it benchdata.NonLiteral, out string) ItemScore {
	c := scoring.Characters(it.Input, out, it.Characters)
	e := scoring.Events(out, it.Events)
	return ItemScore{ID: it.ID, Task: "nonliteral", Characters: &c, Events: &e}
}

func qaScore(it benchdata.QA, out string) ItemScore {
	f1, em := scoring.QA(out, it.Reference)
	return ItemScore{ID: it.ID, Task: "qa", F1: &f1, EM: &em}
}

// aggregate computes the rates of a set of item scores.
func aggregate(items []ItemScore) Rates {
	var r Rates
	for _, s := range items {
		switch {
		case s.Rouge != nil:
			r.Literal++
			r.MeanRouge += *s.Rouge
			if *s.Rouge >= scoring.LiteralThreshold {
				r.LiteralRate++
			}
		case s.Characters != nil:
			r.NonLiteral++
			if *s.Characters >= scoring.CharacterThreshold {
				r.CharRate++
			}
			if *s.Events >= scoring.EventThreshold {
				r.EventRate++
			}
		case s.F1 != nil:
			r.QA++
			r.QAF1 += *s.F1
			if *s.EM {
				r.QAExactMatch++
			}
		}
	}
	div := func(x *float64, n int) {
		if n > 0 {
			*x /= float64(n)
		}
	}
	div(&r.LiteralRate, r.Literal)
	div(&r.MeanRouge, r.Literal)
	div(&r.CharRate, r.NonLiteral)
	div(&r.EventRate, r.NonLiteral)
	div(&r.QAF1, r.QA)
	div(&r.QAExactMatch, r.QA)
	return r
}
