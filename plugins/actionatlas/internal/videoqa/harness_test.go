package videoqa

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/planted"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
)

// stub answers from a table keyed by question id and records what it saw.
type stub struct {
	answers map[string]string
	seen    []Query
	calls   int
}

func (s *stub) Answer(_ context.Context, qs []Query) ([]string, error) {
	s.calls++
	out := make([]string, len(qs))
	for i, q := range qs {
		s.seen = append(s.seen, q)
		a, ok := s.answers[q.ID]
		if !ok {
			return nil, fmt.Errorf("no answer for %s", q.ID)
		}
		out[i] = a
	}
	return out, nil
}

func stubItems(n, frames int) []Item {
	out := make([]Item, n)
	for i := range out {
		c := clip.Clip{T: frames, H: 2, W: 2, FPS: 30, Pixels: make([]byte, frames*12)}
		for t := range frames {
			c.Frame(t)[0] = byte(t) // frame t is recognisable by its first byte
		}
		out[i] = Item{Record: protocol.Record{ID: protocol.Scalar(fmt.Sprint(i)), Question: fmt.Sprintf("What does player %d do?", i),
			ChoicesStr:   "1. Cruyff turn\n2. Elastico\n3. Roulette\n4. Rainbow flick\n5. Nutmeg",
			Descriptions: []string{"drag behind", "snap back", "spin", "flick over", "through the legs"}, Answer: "3"},
			Clip: func() (clip.Clip, error) { return c, nil }}
	}
	return out
}

// TestEvaluateWithStub: prompts, sampling, parsing and scoring through the
// harness with a model that returns fixed strings.
func TestEvaluateWithStub(t *testing.T) {
	items := stubItems(5, 90)
	m := &stub{answers: map[string]string{
		"0": "3",                             // right
		"1": "3.",                            // right: non-digits stripped
		"2": "Choice 2",                      // wrong
		"3": "I think it's a roulette.\n(3)", // cot: last line; direct: first digit 3
		"4": "Roulette",                      // direct: no digit, wrong; cot: the name
	}}
	res, err := Evaluate(context.Background(), m, items, Options{Format: protocol.Direct, Sampling: Sampling{Frames: 8}, Batch: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.calls != 3 {
		t.Errorf("%d Answer calls for 5 questions in batches of 2", m.calls)
	}
	var parsed []string
	for _, r := range res.Items {
		parsed = append(parsed, r.Parsed)
	}
	if diff := cmp.Diff([]string{"3", "3", "2", "3", ""}, parsed); diff != "" {
		t.Errorf("direct parsing (-want +got):\n%s", diff)
	}
	if res.Interval.Accuracy != 0.6 || res.Interval.N != 5 || res.Interval.Samples != 1000 {
		t.Errorf("interval %+v", res.Interval)
	}
	q := m.seen[0]
	want := protocol.Frames + "Answer the given question according to the video. Only output the choice number and nothing else. When answering the question consider all legal and illegal moves and drills.\n" +
		"What does player 0 do?\n1. Cruyff turn\n2. Elastico\n3. Roulette\n4. Rainbow flick\n5. Nutmeg"
	if diff := cmp.Diff(want, q.Prompt); diff != "" {
		t.Errorf("prompt (-want +got):\n%s", diff)
	}
	if q.System != protocol.System || q.Frames.T != 8 || q.ClipFrames != 90 {
		t.Errorf("query: system %q, %d of %d frames", q.System, q.Frames.T, q.ClipFrames)
	}
	var firsts []int
	for i := range q.Frames.T {
		firsts = append(firsts, int(q.Frames.Frame(i)[0]))
	}
	if diff := cmp.Diff([]int{0, 12, 25, 38, 50, 63, 76, 89}, firsts); diff != "" { // linspace(0, 89, 8) truncated
		t.Errorf("sampled frames (-want +got):\n%s", diff)
	}
	if times := q.Times(); times[0] != 0 || times[7] != 1 {
		t.Errorf("times %v", times)
	}

	// Chain of thought with descriptions, 1 fps: 3 frames of a 90-frame 30 fps clip.
	m.seen = nil
	res, err = Evaluate(context.Background(), m, items, Options{Format: protocol.DescriptionsCoT, Sampling: Sampling{FPS: 1, MaxFrames: 100}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	parsed = nil
	for _, r := range res.Items {
		parsed = append(parsed, r.Parsed)
	}
	// "Roulette" alone does not match "roulette: spin" (the description is
	// part of the name in the reference's fallback), and has no digit.
	if diff := cmp.Diff([]string{"3", "3", "2", "3", ""}, parsed); diff != "" {
		t.Errorf("cot parsing (-want +got):\n%s", diff)
	}
	if !strings.Contains(m.seen[0].Prompt, "3. Roulette: spin\n4. Rainbow flick: flick over") || m.seen[0].Frames.T != 3 {
		t.Errorf("cot prompt %q with %d frames", m.seen[0].Prompt, m.seen[0].Frames.T)
	}
	res, err = Evaluate(context.Background(), m, items, Options{Format: protocol.CoT, Sampling: Sampling{Frames: 1}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Items[4].Parsed != "3" || res.Items[4].Frames != 1 || !res.Items[4].Correct {
		t.Errorf("cot without descriptions: the name fallback gave %+v", res.Items[4])
	}
	if m.seen[len(m.seen)-1].Indices[0] != 45 {
		t.Errorf("one frame: index %d, want the middle 45", m.seen[len(m.seen)-1].Indices[0])
	}

	// Errors name the question.
	broken := stubItems(2, 4)
	broken[1].Clip = func() (clip.Clip, error) { return clip.Clip{}, fmt.Errorf("clip x.safetensors: truncated") }
	if _, err := Evaluate(context.Background(), m, broken, Options{Format: protocol.Direct, Sampling: Sampling{Frames: 2}}); err == nil || !strings.Contains(err.Error(), "question 1: clip x.safetensors") {
		t.Errorf("broken clip: %v", err)
	}
	if _, err := Evaluate(context.Background(), &stub{}, items, Options{Format: protocol.Direct, Sampling: Sampling{Frames: 2}}); err == nil {
		t.Error("a model error was not reported")
	}
}

// plantedItem wraps a planted item for the harness.
func plantedItem(i int, it planted.Item) Item {
	c := it.Clip
	return Item{Record: planted.Record(i, it, ""), Clip: func() (clip.Clip, error) { return c, nil }}
}
