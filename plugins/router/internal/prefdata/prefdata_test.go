package prefdata

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadLayouts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		opt      LoadOptions
		want     []Instance
		wantTies int
	}{
		{
			name: "multipref majority vote, tie dropped",
			body: `{"comparison_id":"c1","prompt_id":"p1","text":"q","completion_a":"x","completion_b":"y","normal_worker_annotations":[{"overall_pref":"A-is-slightly-better"},{"overall_pref":"B-is-clearly-better"}],"expert_worker_annotations":[{"overall_pref":"A-is-clearly-better"}],"pref_gpt4":"B-is-slightly-better","subject_of_expertise":["Computer sciences"]}
{"comparison_id":"c2","text":"q2","completion_a":"x","completion_b":"y","normal_worker_annotations":[{"overall_pref":"A-is-slightly-better"},{"overall_pref":"B-is-slightly-better"}],"pref_gpt4":"A-is-clearly-better"}
`,
			want: []Instance{{ID: "c1", Prompt: "q", A: "x", B: "y", Human: PrefA, LM: PrefB,
				Tags: map[string][]string{"subject_of_expertise": {"Computer sciences"}}}},
			wantTies: 1,
		},
		{
			name: "hybrid-preferences feature file",
			body: `{"prompt_hash":"h1","text":"q","response_a":"x","response_b":"y","pref_human":"B-is-better","pref_gpt4":"A-is-better","token_len_diff":3,"expertise_level":"general_public","format_constraints":["json"]}
{"prompt_hash":"h2","text":"q","response_a":"x","response_b":"y","pref_human":"Tie","pref_gpt4":"A-is-better"}
`,
			want: []Instance{{ID: "h1", Prompt: "q", A: "x", B: "y", Human: PrefB, LM: PrefA,
				Tags: map[string][]string{"expertise_level": {"general_public"}, "format_constraints": {"json"}}}},
			wantTies: 1,
		},
		{
			name: "plain with gold and nested tags",
			body: `{"id":"1","prompt":"q","response_a":"x","response_b":"y","human":"a","lm":-1,"gold":"b","tags":{"subject_of_expertise":"Physics"}}` + "\n",
			want: []Instance{{ID: "1", Prompt: "q", A: "x", B: "y", Human: PrefA, LM: PrefB, Gold: PrefB,
				Tags: map[string][]string{"subject_of_expertise": {"Physics"}}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Read(strings.NewReader(tc.body), "f.jsonl", tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ds.Instances); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
			if ds.Ties != tc.wantTies {
				t.Errorf("ties = %d, want %d", ds.Ties, tc.wantTies)
			}
		})
	}
}

func TestReadErrorsNameFileAndLine(t *testing.T) {
	good := `{"id":"1","prompt":"q","response_a":"x","response_b":"y","human":"a","lm":"b"}`
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad json", good + "\n{oops\n", "d.jsonl:2: not a JSON object"},
		{"bad label", good + "\n" + `{"id":"2","prompt":"q","response_a":"x","response_b":"y","human":"maybe","lm":"b"}`, `d.jsonl:2: field "human": preference "maybe"`},
		{"missing response", `{"id":"2","prompt":"q","response_a":"x","human":"a","lm":"b"}`, `d.jsonl:1: missing field "response_b" or "completion_b"`},
		{"duplicate id", good + "\n" + good, `d.jsonl:2: id "1" already used on line 1`},
		{"unknown layout", `{"foo":1}`, "d.jsonl:1: cannot tell the layout"},
		{"multipref without lm", `{"comparison_id":"c","text":"q","completion_a":"x","completion_b":"y","normal_worker_annotations":[{"overall_pref":"Tie"}]}`, `d.jsonl:1: missing field "pref_gpt4"`},
		{"all ties", `{"id":"1","prompt":"q","response_a":"x","response_b":"y","human":"tie","lm":"b"}`, "d.jsonl: no usable rows (1 ties dropped)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tc.body), "d.jsonl", LoadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
