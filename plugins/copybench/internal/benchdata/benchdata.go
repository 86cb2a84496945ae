// Package benchdata loads CopyBench's items (data.literal.json,
// data.nonliteral.json, data.qa.json: JSON arrays) and prompt configs
// (prompts.*.json) and builds prompts exactly as the reference's
// scripts/generate.py process_conversation does.
package benchdata

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Literal is an item of data.literal.json: a ~160-word excerpt prefix and
// its true ~50-word continuation.
type Literal struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Input     string `json:"input"`
	Reference string `json:"reference"`
}

// NonLiteral is an item of data.nonliteral.json: a one-sentence story
// opening, the book's key plot events and its characters (each a list of
// aliases).
type NonLiteral struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Input      string     `json:"input"`
	Events     []string   `json:"reference_events"`
	Characters [][]string `json:"reference_characters"`
}

// QA is an item of data.qa.json: a question about a book and its short
// gold answer (fact recall, the utility side).
type QA struct {
	ID        string `json:"id"`
	Title     string `json:"title"`
	Input     string `json:"input"`
	Reference string `json:"reference"`
}

// ReadLiteral, ReadNonLiteral and ReadQA load the reference's files; errors
// name the file and the item's line.
func ReadLiteral(path string) ([]Literal, error) {
	return datafile.ReadJSONArray[Literal](path, datafile.Options{})
}

// ReadNonLiteral loads data.nonliteral.json.
func ReadNonLiteral(path string) ([]NonLiteral, error) {
	return datafile.ReadJSONArray[NonLiteral](path, datafile.Options{})
}

// ReadQA loads data.qa.json.
func ReadQA(path string) ([]QA, error) {
	return datafile.ReadJSONArray[QA](path, datafile.Options{})
}

// Demo is one in-context example of a prompt config.
type Demo struct {
	Input  string `json:"input"`
	Output string `json:"output"`
}

// PromptConfig is a prompts.<task>.format<N>.json file.
type PromptConfig struct {
	Tag          string `json:"tag"`
	System       string `json:"system"`
	EnableSystem bool   `json:"enable_system"`
	Instruction  string `json:"instruction"`
	DemoSep      string `json:"demo_sep"`
	DemoPrompt   string `json:"demo_prompt"`
	TaskPrompt   string `json:"task_prompt"`
	Demos        []Demo `json:"-"`
}

// ReadPromptConfig loads a prompt config; its demos field is either a JSON
// list or a string holding one (the files store it stringified).
func ReadPromptConfig(path string) (*PromptConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		PromptConfig
		Demos json.RawMessage `json:"demos"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pc := raw.PromptConfig
	if len(raw.Demos) > 0 {
		if err := json.Unmarshal(raw.Demos, &pc.Demos); err != nil {
			var s string
			if json.Unmarshal(raw.Demos, &s) != nil {
				return nil, fmt.Errorf("%s: demos: %w", path, err)
			}
			if err := json.Unmarshal([]byte(s), &pc.Demos); err != nil {
				return nil, fmt.Errorf("%s: demos (a string holding JSON): %w", path, err)
			}
		}
	}
	if pc.DemoPrompt == "" || pc.DemoSep == "" {
		return nil, fmt.Errorf("%s: demo_prompt and demo_sep are required", path)
	}
	return &pc, nil
}

// substitute is Python's string.Template.safe_substitute for ${input} and
// ${output} (the only placeholders the configs use).
func substitute(tmpl, input, output string) string {
	return strings.NewReplacer("${input}", input, "${output}", output).Replace(tmpl)
}

// Prompt builds the prompt of one item as process_conversation does:
// instruction, then the demos, then the task prompt, joined by demo_sep and
// stripped; with enable_system the system prompt comes first, joined by
// "\n\n" (merge_conversation). The demos are given (the reference samples
// them with random.sample; zero-shot passes none).
func (pc *PromptConfig) Prompt(input string, demos []Demo) string {
	var b strings.Builder
	b.WriteString(pc.Instruction)
	b.WriteString(pc.DemoSep)
	for i, d := range demos {
		if i > 0 {
			b.WriteString(pc.DemoSep)
		}
		b.WriteString(substitute(pc.DemoPrompt, d.Input, d.Output))
	}
	b.WriteString(pc.DemoSep)
	task := pc.TaskPrompt
	if task == "" {
		task = pc.DemoPrompt
	}
	b.WriteString(substitute(task, input, ""))
	p := strings.TrimSpace(b.String())
	if pc.EnableSystem {
		p = pc.System + "\n\n" + p
	}
	return p
}

// Stop is the reference's stop sequence for generation.
const Stop = "\n\n\n"

// TaskOnly is the task prompt alone (no instruction, no demos): the short
// zero-shot form for small models.
func (pc *PromptConfig) TaskOnly(input string) string {
	task := pc.TaskPrompt
	if task == "" {
		task = pc.DemoPrompt
	}
	return substitute(task, input, "")
}
