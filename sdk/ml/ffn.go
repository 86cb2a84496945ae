package ml

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// FFNSpec names a transformer's feed-forward sublayer in its Config, so that
// a saved model can be rebuilt from its file alone. The zero value (or Kind
// "swiglu") is the built-in SwiGLU of width Config.DFF. Any other kind is
// built by the FFNBuilder registered under that name (RegisterFFN), e.g. the
// moe plugin registers "moe"; a binary that has not registered it fails
// NewTransformer with an error saying so.
type FFNSpec struct {
	Kind string `json:"kind,omitempty"`
	// Mixture of experts: number of experts per layer, experts active per
	// token and each expert's hidden width.
	Experts      int `json:"experts,omitempty"`
	TopK         int `json:"top_k,omitempty"`
	ExpertHidden int `json:"expert_hidden,omitempty"`
	// Options holds the kind's other settings as a JSON object (a string, so
	// that Config stays comparable); the builder decodes it.
	Options string `json:"options,omitempty"`
}

// FFNSwiGLU is the built-in feed-forward kind.
const FFNSwiGLU = "swiglu"

// IsSwiGLU reports whether the spec is the built-in SwiGLU.
func (s FFNSpec) IsSwiGLU() bool { return s.Kind == "" || s.Kind == FFNSwiGLU }

// DecodeOptions unmarshals Options into v (strictly: unknown fields are
// errors); empty Options leave v as it is.
func (s FFNSpec) DecodeOptions(v any) error {
	if s.Options == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(s.Options))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("feed-forward %q options: %w", s.Kind, err)
	}
	return nil
}

// FFNOptions encodes v as the Options string.
func FFNOptions(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// FFNBuilder returns the feed-forward a config asks for (cfg.FFN.Kind is the
// name it was registered under). It should validate cfg.FFN and return an
// error naming what is wrong.
type FFNBuilder func(cfg Config) (FeedForward, error)

var ffnRegistry = struct {
	sync.Mutex
	m map[string]FFNBuilder
}{m: map[string]FFNBuilder{}}

// RegisterFFN makes kind buildable from a Config (call it from an init
// function of the package that defines the feed-forward). Registering
// "swiglu" or a kind twice panics.
func RegisterFFN(kind string, b FFNBuilder) {
	ffnRegistry.Lock()
	defer ffnRegistry.Unlock()
	if kind == "" || kind == FFNSwiGLU {
		panic(fmt.Sprintf("ml.RegisterFFN: %q is the built-in feed-forward", kind))
	}
	if _, dup := ffnRegistry.m[kind]; dup {
		panic(fmt.Sprintf("ml.RegisterFFN: feed-forward kind %q registered twice", kind))
	}
	ffnRegistry.m[kind] = b
}

// FFNKinds lists the feed-forward kinds this binary can build.
func FFNKinds() []string {
	ffnRegistry.Lock()
	defer ffnRegistry.Unlock()
	out := []string{FFNSwiGLU}
	for k := range ffnRegistry.m {
		out = append(out, k)
	}
	sort.Strings(out[1:])
	return out
}

// buildFFN returns nil for SwiGLU (the Transformer's default).
func buildFFN(cfg Config) (FeedForward, error) {
	if cfg.FFN.IsSwiGLU() {
		return nil, nil
	}
	ffnRegistry.Lock()
	b, ok := ffnRegistry.m[cfg.FFN.Kind]
	ffnRegistry.Unlock()
	if !ok {
		return nil, fmt.Errorf("model config: feed-forward kind %q is not known to this binary (it knows %s): "+
			"the package that defines it must register it with ml.RegisterFFN (the moe plugin registers \"moe\")",
			cfg.FFN.Kind, strings.Join(FFNKinds(), ", "))
	}
	ff, err := b(cfg)
	if err != nil {
		return nil, fmt.Errorf("model config: feed-forward %q: %w", cfg.FFN.Kind, err)
	}
	return ff, nil
}
