package protocol

import (
	"fmt"
	"strings"
)

// Format names a prompt template of the reference (action_atlas/prompts.py).
type Format string

// The reference's evaluation templates.
const (
	// Direct is MC_PROMPT: answer with the choice number only.
	Direct Format = "direct"
	// Descriptions is MC_WITH_DESCRIPTION_PROMPT: each choice followed by
	// ": <description>".
	Descriptions Format = "descriptions"
	// CoT is MC_COT_PROMPT: reasoning allowed, the number on the last line.
	CoT Format = "cot"
	// DescriptionsCoT is MC_WITH_DESCRIPTION_COT_PROMPT.
	DescriptionsCoT Format = "descriptions_cot"
)

// Formats lists every template, in the order the README documents them.
var Formats = []Format{Direct, Descriptions, CoT, DescriptionsCoT}

// The templates, verbatim from action_atlas/prompts.py ({question} and
// {choices} are substituted once each, like Python's str.format).
const (
	mcPrompt                = "Answer the given question according to the video. Only output the choice number and nothing else. When answering the question consider all legal and illegal moves and drills.\n{question}\n{choices}"
	mcWithDescriptionPrompt = "Answer the given question according to the video. Each choice presents an action name along with its description which helps in identification. Only output the choice number and nothing else. When answering the question consider all legal and illegal moves and drills.\n{question}\n{choices}"
	mcWithDescriptionCoT    = "Answer the given question according to the video. Each choice presents an action name along with its description which helps in identification. You can describe the video or do any step by step reasoning about what you see in the video and the choices. However, output your final choice number (1 to 5) at the end of your response in a new line. When answering the question consider all legal and illegal moves and drills.\n{question}\n{choices}"
	mcCoTPrompt             = "Answer the given question according to the video. You can describe the video or do any step by step reasoning about what you see in the video. However, output your final choice number (1 to 5) at the end of your response in a new line.\n{question}\n{choices}"
)

// System is the system message of the reference's GPT-4 path; Frames is
// the text put before the template in its user message.
const (
	System = "You're an assistant great at recognizing fine-grained actions and activities in a video."
	Frames = "These are frames extracted from a video. "
)

// Template returns the format's template.
func (f Format) Template() (string, error) {
	switch f {
	case Direct:
		return mcPrompt, nil
	case Descriptions:
		return mcWithDescriptionPrompt, nil
	case CoT:
		return mcCoTPrompt, nil
	case DescriptionsCoT:
		return mcWithDescriptionCoT, nil
	}
	return "", fmt.Errorf("unknown prompt format %q (want direct, descriptions, cot or descriptions_cot)", f)
}

// WithDescriptions says whether the format appends choice descriptions.
func (f Format) WithDescriptions() bool { return f == Descriptions || f == DescriptionsCoT }

// ChainOfThought says whether answers are parsed from the last line.
func (f Format) ChainOfThought() bool { return f == CoT || f == DescriptionsCoT }

// ChoicesText is the {choices} text: choices_str as it is, or — with
// descriptions — each of its lines followed by ": " and its description
// (the reference asserts as many descriptions as lines).
func ChoicesText(choicesStr string, descriptions []string, withDescriptions bool) (string, error) {
	if !withDescriptions {
		return choicesStr, nil
	}
	lines := strings.Split(choicesStr, "\n")
	if len(lines) != len(descriptions) {
		return "", fmt.Errorf("%d choices but %d choice descriptions", len(lines), len(descriptions))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l + ": " + descriptions[i]
	}
	return strings.Join(out, "\n"), nil
}

// Render fills the template: the user message of the reference's GPT-4
// path is Frames + Render(...).
func Render(f Format, question, choices string) (string, error) {
	t, err := f.Template()
	if err != nil {
		return "", err
	}
	// One pass, left to right, as str.format: a "{choices}" inside the
	// question is not substituted again.
	var b strings.Builder
	for t != "" {
		qi, ci := strings.Index(t, "{question}"), strings.Index(t, "{choices}")
		switch {
		case qi >= 0 && (ci < 0 || qi < ci):
			b.WriteString(t[:qi])
			b.WriteString(question)
			t = t[qi+len("{question}"):]
		case ci >= 0:
			b.WriteString(t[:ci])
			b.WriteString(choices)
			t = t[ci+len("{choices}"):]
		default:
			b.WriteString(t)
			t = ""
		}
	}
	return b.String(), nil
}

// NumberedChoices renders names as choices_str: "1. name\n2. name…".
func NumberedChoices(names []string) string {
	lines := make([]string, len(names))
	for i, n := range names {
		lines[i] = fmt.Sprintf("%d. %s", i+1, n)
	}
	return strings.Join(lines, "\n")
}
