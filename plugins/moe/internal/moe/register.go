package moe

import (
	"fmt"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Kind is the feed-forward kind this package registers with sdk/ml, so
// that a model file whose config says "moe" rebuilds this block.
const Kind = "moe"

// options are the block's settings beyond experts, top-k and expert width,
// stored as ml.FFNSpec.Options.
type options struct {
	Renormalize    bool    `json:"renormalize"`
	BlockSize      int     `json:"block_size"`
	Dense          bool    `json:"dense"`
	LoadBalance    float64 `json:"load_balance"`
	ZLoss          float64 `json:"z_loss"`
	ZLossDivideByK bool    `json:"zloss_divide_by_k"`
}

func init() { ml.RegisterFFN(Kind, build) }

// Spec describes the block (and its auxiliary losses) for ml.Config.FFN.
func Spec(c Config, lc LossConfig) ml.FFNSpec {
	o, err := ml.FFNOptions(options{Renormalize: c.Renormalize, BlockSize: c.BlockSize, Dense: c.Dense,
		LoadBalance: lc.LoadBalance, ZLoss: lc.ZLoss, ZLossDivideByK: lc.ZLossDivideByK})
	if err != nil {
		panic(err) // a struct of plain fields always marshals
	}
	return ml.FFNSpec{Kind: Kind, Experts: c.Experts, TopK: c.TopK, ExpertHidden: c.Hidden, Options: o}
}

// FromSpec is the inverse of Spec for a model config.
func FromSpec(cfg ml.Config) (Config, LossConfig, error) {
	var o options
	if err := cfg.FFN.DecodeOptions(&o); err != nil {
		return Config{}, LossConfig{}, err
	}
	c := Config{DModel: cfg.DModel, Hidden: cfg.FFN.ExpertHidden, Experts: cfg.FFN.Experts, TopK: cfg.FFN.TopK,
		Renormalize: o.Renormalize, BlockSize: o.BlockSize, Layers: cfg.NumLayers, Dense: o.Dense}
	lc := LossConfig{LoadBalance: o.LoadBalance, ZLoss: o.ZLoss, ZLossDivideByK: o.ZLossDivideByK}
	if err := c.Validate(); err != nil {
		return c, lc, err
	}
	if lc.LoadBalance < 0 || lc.ZLoss < 0 {
		return c, lc, fmt.Errorf("moe: loss weights must be ≥ 0, got load_balance %v, z_loss %v", lc.LoadBalance, lc.ZLoss)
	}
	return c, lc, nil
}

func build(cfg ml.Config) (ml.FeedForward, error) {
	c, lc, err := FromSpec(cfg)
	if err != nil {
		return nil, err
	}
	return FeedForward(c, lc, cfg.NumLayers), nil
}
