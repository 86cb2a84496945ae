package prefs

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Conditioning says how a prompt tells the model its community.
//
//   - "template" (the default): the community's name in the text, with the
//     reference implementation's template
//     "<|domain|>\n{community}\n<|user|>{title}\n{post}\n<|assistant|>\n";
//     no context is the generic community "Reddit". This is what the paper
//     trains and evaluates, the model reads any community by name (real data
//     has hundreds) and the no-context and random-context variants are the
//     paper's text substitutions.
//   - "prefix": the kit's learned prefix id (Config.PrefixVocab), id i+1 for
//     Communities[i] and 0 for no context, with the template minus its
//     domain line. Shorter prompts, so cheaper, but the communities are a
//     closed set fixed at SFT time.
type Conditioning struct {
	Mode        string   `json:"mode"`
	Communities []string `json:"communities"` // sorted; prefix ids are index+1
}

// Conditionings are the valid modes.
var Conditionings = []string{"template", "prefix"}

// Generic is the community of the no-context prompt (the reference's
// choice: the whole of Reddit).
const Generic = "Reddit"

// NoContext is the community value that asks for the no-context prompt.
const NoContext = ""

// MetaKey is the model artifact's metadata key holding the conditioning,
// so that the dpo and eval steps read it from the SFT model.
const MetaKey = "compo.conditioning"

// Marshal encodes c for the model's metadata.
func (c Conditioning) Marshal() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// ParseConditioning reads what Marshal wrote.
func ParseConditioning(s string) (Conditioning, error) {
	var c Conditioning
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("conditioning metadata %q: %w", s, err)
	}
	if !slices.Contains(Conditionings, c.Mode) {
		return c, fmt.Errorf("conditioning metadata: unknown mode %q", c.Mode)
	}
	return c, nil
}

// PrefixVocab is the model's Config.PrefixVocab for c.
func (c Conditioning) PrefixVocab() int {
	if c.Mode == "prefix" {
		return len(c.Communities) + 1
	}
	return 0
}

// Prompt returns the prompt of p told community (NoContext: the generic
// one) and its prefix id (0 with the template). A community the model was
// not trained on is an error in prefix mode.
func (c Conditioning) Prompt(p Pair, community string) (string, int32, error) {
	user := "<|user|>" + p.Title + "\n" + p.Post + "\n<|assistant|>\n"
	if c.Mode == "prefix" {
		if community == NoContext {
			return user, 0, nil
		}
		i := slices.Index(c.Communities, community)
		if i < 0 {
			return "", 0, fmt.Errorf("community %q has no prefix id (the model knows %s)", community, strings.Join(c.Communities, ", "))
		}
		return user, int32(i + 1), nil
	}
	if community == NoContext {
		community = Generic
	}
	return "<|domain|>\n" + community + "\n" + user, 0, nil
}
