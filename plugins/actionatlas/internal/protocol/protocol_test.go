package protocol

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

func TestSampleByCount(t *testing.T) {
	cases := []struct {
		n, k int
		want []int
	}{
		{16, 1, []int{8}}, // the middle frame
		{15, 1, []int{7}},
		{16, 2, []int{0, 15}},
		{16, 3, []int{0, 7, 15}},
		{16, 4, []int{0, 5, 10, 15}},
		{16, 8, []int{0, 2, 4, 6, 8, 10, 12, 15}}, // 15/7 = 2.142…, truncated
		{5, 8, []int{0, 0, 1, 1, 2, 2, 3, 4}},     // more frames asked than there are: repeats
		{300, 16, []int{0, 19, 39, 59, 79, 99, 119, 139, 159, 179, 199, 219, 239, 259, 279, 299}},
	}
	for _, c := range cases {
		got, err := SampleByCount(c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("SampleByCount(%d, %d) (-want +got):\n%s", c.n, c.k, diff)
		}
	}
	for _, bad := range [][2]int{{0, 4}, {16, 0}, {16, -1}} {
		if _, err := SampleByCount(bad[0], bad[1]); err == nil {
			t.Errorf("SampleByCount%v: no error", bad)
		}
	}
}

func TestSampleByFPS(t *testing.T) {
	cases := []struct {
		name           string
		n              int
		clipFPS, fps   float64
		max            int
		wantLen, first int
		wantStep       int
	}{
		{"30fps clip at 2 fps", 90, 30, 2, 100, 6, 0, 15},
		{"29.97 at 2 fps: int(14.985) = 14", 60, 29.97, 2, 100, 5, 0, 14},
		{"1 fps over a 10 s clip", 300, 30, 1, 100, 10, 0, 30},
		{"250 frames capped at 100: stride 2", 250, 30, 30, 100, 100, 0, 2},
		{"no cap", 250, 30, 30, 0, 250, 0, 1},
		{"rate above the clip's: every frame (reference: ZeroDivisionError)", 7, 10, 25, 100, 7, 0, 1},
	}
	for _, c := range cases {
		got, err := SampleByFPS(c.n, c.clipFPS, c.fps, c.max)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(got) != c.wantLen || got[0] != c.first {
			t.Errorf("%s: %d frames from %d, want %d from %d (%v)", c.name, len(got), got[0], c.wantLen, c.first, got)
			continue
		}
		for i := 1; i < len(got); i++ {
			if got[i]-got[i-1] != c.wantStep {
				t.Errorf("%s: step %d at %d, want %d", c.name, got[i]-got[i-1], i, c.wantStep)
				break
			}
		}
	}
	// 350 candidates over a cap of 100: stride 350//100 = 3, cut to 100.
	got, _ := SampleByFPS(350, 30, 30, MaxFramesFPS)
	if len(got) != 100 || got[99] != 297 {
		t.Errorf("capped: %d frames, last %d; want 100, last 297", len(got), got[len(got)-1])
	}
	if _, err := SampleByFPS(10, 0, 1, 100); err == nil {
		t.Error("a clip rate of 0 was accepted")
	}
}

func TestRender(t *testing.T) {
	choices := NumberedChoices([]string{"Cruyff turn", "Elastico", "Roulette", "Rainbow flick", "Nutmeg"})
	got, err := Render(Direct, "What move does the player in red make?", choices)
	if err != nil {
		t.Fatal(err)
	}
	want := "Answer the given question according to the video. Only output the choice number and nothing else. When answering the question consider all legal and illegal moves and drills.\n" +
		"What move does the player in red make?\n1. Cruyff turn\n2. Elastico\n3. Roulette\n4. Rainbow flick\n5. Nutmeg"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("direct prompt (-want +got):\n%s", diff)
	}
	// A question mentioning {choices} is not substituted again (str.format).
	got, _ = Render(CoT, "Q {choices}?", "1. a")
	if !strings.HasSuffix(got, "\nQ {choices}?\n1. a") || !strings.Contains(got, "final choice number (1 to 5) at the end") {
		t.Errorf("cot prompt: %q", got)
	}
	withDesc, err := ChoicesText("1. a\n2. b", []string{"first", "second"}, true)
	if err != nil || withDesc != "1. a: first\n2. b: second" {
		t.Errorf("choices with descriptions: %q, %v", withDesc, err)
	}
	if _, err := ChoicesText("1. a\n2. b", []string{"first"}, true); err == nil {
		t.Error("a missing description was accepted")
	}
	for _, f := range Formats {
		p, err := Render(f, "Q", "C")
		if err != nil || !strings.HasSuffix(p, "\nQ\nC") {
			t.Errorf("%s: %q, %v", f, p, err)
		}
		if f.WithDescriptions() != strings.Contains(p, "description which helps") {
			t.Errorf("%s: descriptions flag disagrees with the template", f)
		}
	}
	if _, err := Render("wide", "Q", "C"); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestParseDirect(t *testing.T) {
	cases := map[string]string{
		"3":                  "3",
		" 4.\n":              "4",
		"Choice 2":           "2",
		"2 or 3":             "2", // first digit
		"12":                 "1",
		"The answer is five": "",
		"":                   "",
		"-1":                 "1", // the reference's error marker is handled before parsing (Score)
		"٣":                  "٣", // Arabic-Indic three: a digit (Nd), never equal to "3"
	}
	for in, want := range cases {
		if got := ParseDirect(in); got != want {
			t.Errorf("ParseDirect(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseCoT(t *testing.T) {
	choices := "1. Cruyff turn\n2. Elastico\n3. Roulette\n4. Rainbow flick\n5. Nutmeg"
	cases := []struct{ resp, want string }{
		{"The player drags the ball back.\n3", "3"},
		{"Frames 1 to 4 show a spin.\nAnswer: 5", "5"},        // digits of the last line only
		{"I see 2 players.\nFinal: 4 (Rainbow flick)", "4"},   // first digit of the last line
		{"It is clearly a roulette.\nRoulette", "3"},          // no digit: the one name mentioned
		{"Roulette or elastico?\nHard to say.", ""},           // two names: none
		{"Step 1: look.\nIt is a kind of turn.", "1"},         // last resort: the single digit
		{"Steps 1 and 2.\nUnsure.", ""},                       // last resort needs exactly one digit
		{"Answer:\n2\n", "2"},                                 // stripped before the split
		{"a nutmeg through the legs 3 times\nno number", "5"}, // names before the last resort
	}
	for _, c := range cases {
		if got := ParseCoT(c.resp, choices); got != c.want {
			t.Errorf("ParseCoT(%q) = %q, want %q", c.resp, got, c.want)
		}
	}
	// With descriptions, the whole "name: description" line is the name.
	desc := "1. Lob: a high ball\n2. Smash: a hard hit"
	if got := ParseCoT("It was a smash: a hard hit.\nSee above", desc); got != "2" {
		t.Errorf("with descriptions: %q", got)
	}
	if got := Parse(Direct, "x 7", ""); got != "7" {
		t.Errorf("Parse(direct) = %q", got)
	}
}

func TestBootstrap(t *testing.T) {
	correct := make([]bool, 400)
	for i := range correct {
		correct[i] = i%4 == 0 // 25 %
	}
	iv, err := Bootstrap(correct, BootstrapSamples, 1)
	if err != nil {
		t.Fatal(err)
	}
	if iv.Accuracy != 0.25 || iv.N != 400 || iv.Samples != 1000 {
		t.Errorf("interval %+v", iv)
	}
	// The binomial standard error is √(.25·.75/400) ≈ 0.0217: the 95 %
	// interval is about ±1.96 of it.
	se := math.Sqrt(0.25 * 0.75 / 400)
	if math.Abs(iv.Mean-0.25) > 0.005 || math.Abs(iv.Lower-(0.25-1.96*se)) > 0.01 || math.Abs(iv.Upper-(0.25+1.96*se)) > 0.01 {
		t.Errorf("interval %+v, want about 0.25 ± %.3f", iv, 1.96*se)
	}
	if iv.Margin != iv.Mean-iv.Lower {
		t.Errorf("margin %v", iv.Margin)
	}
	again, _ := Bootstrap(correct, BootstrapSamples, 1)
	other, _ := Bootstrap(correct, BootstrapSamples, 2)
	if again != iv {
		t.Error("the same seed gave another interval")
	}
	if other == iv {
		t.Error("another seed gave the same interval")
	}
	if _, err := Bootstrap(nil, 10, 1); err == nil {
		t.Error("an empty bootstrap was accepted")
	}
	if got := Percentile([]float64{1, 2, 3, 4}, 50); got != 2.5 {
		t.Errorf("percentile 50 of 1..4 = %v (numpy: 2.5)", got)
	}
	if got := Percentile([]float64{0, 10}, 2.5); got != 0.25 {
		t.Errorf("percentile 2.5 of {0,10} = %v (numpy: 0.25)", got)
	}
}

func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "meta.jsonl")
	lines := `{"id": 17, "youtube_id": "abc", "question": "What move?", "choices_str": "1. a\n2. b", "answer": 2, "start_timestamp": 12, "end_timestamp": "15.25", "sport": "soccer", "polygons": [[1,2]]}
{"id": "x9", "youtube_id": "def", "question": "Q", "choices_str": "1. a\n2. b", "choice_descriptions": ["da", "db"], "answer": "1", "start_timestamp": 3.05, "end_timestamp": 4.96}
`
	if err := os.WriteFile(p, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := LoadMetadata(p)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].ID != "17" || recs[0].Answer != "2" || recs[1].ID != "x9" {
		t.Errorf("records %+v", recs)
	}
	for i, want := range []string{"abc_12.0_15.2", "def_3.0_5.0"} { // round(15.25,1)=15.2, round(3.05,1)=3.0 (binary values)
		got, err := recs[i].ClipStem()
		if err != nil || got != want {
			t.Errorf("clip stem %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if diff := cmp.Diff([]string{"a", "b"}, recs[0].Choices()); diff != "" {
		t.Errorf("choices: %s", diff)
	}
	bad := map[string]string{
		"no answer":   `{"id": 1, "question": "Q", "choices_str": "1. a"}`,
		"repeated id": `{"id": 1, "question": "Q", "choices_str": "1. a", "answer": 1}` + "\n" + `{"id": 1, "question": "Q", "choices_str": "1. a", "answer": 1}`,
		"descs":       `{"id": 1, "question": "Q", "choices_str": "1. a\n2. b", "answer": 1, "choice_descriptions": ["x"]}`,
		"bad id type": `{"id": [1], "question": "Q", "choices_str": "1. a", "answer": 1}`,
	}
	for name, body := range bad {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadMetadata(p)
		if err == nil || !strings.Contains(err.Error(), "meta.jsonl") {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

// FuzzParse: the parsers never panic; ParseDirect answers "" or one
// digit, ParseCoT "" or the digits of a choice number.
func FuzzParse(f *testing.F) {
	f.Add("Reasoning.\n3", "1. a\n2. b")
	f.Add("", "")
	f.Add("b\n", "1. a\n2. b\nx")
	f.Fuzz(func(t *testing.T, resp, choices string) {
		if got := ParseDirect(resp); len([]rune(got)) > 1 || (got != "" && !unicode.IsDigit([]rune(got)[0])) {
			t.Errorf("ParseDirect(%q) = %q", resp, got)
		}
		got := ParseCoT(resp, choices)
		for _, r := range got {
			if !unicode.IsDigit(r) {
				t.Errorf("ParseCoT(%q, %q) = %q", resp, choices, got)
			}
		}
	})
}
