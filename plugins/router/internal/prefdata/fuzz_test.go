package prefdata_test

import (
	"bytes"
	"testing"

	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
)

// FuzzRead runs the preference loaders on arbitrary JSONL in every layout:
// an error naming the line, or instances that each have both responses and a
// human and an LM label (ties never survive loading).
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		`{"id":"1","prompt":"p","response_a":"a","response_b":"b","human":"A-is-clearly-better","lm":"b","gold":"a","tags":{"subject_of_expertise":"Physics"}}`,
		`{"prompt_hash":"h","text":"p","response_a":"a","response_b":"b","pref_human":"B-is-slightly-better","pref_gpt4":"Tie","safety_concern":["high"]}`,
		`{"comparison_id":"c","text":"p","completion_a":"a","completion_b":"b","normal_worker_annotations":[{"overall_pref":"A-is-better"}],"pref_gpt4":-1}`,
		"{\"id\":1,\"prompt\":\"p\",\"response_a\":\"a\",\"response_b\":\"b\",\"human\":1,\"lm\":0}\n\n{\"id\":1}",
		`{"tags":{"x":[1,null,true]}}`,
	} {
		f.Add([]byte(seed), uint8(0))
	}
	formats := []prefdata.Format{prefdata.FormatAuto, prefdata.FormatJSONL, prefdata.FormatHyPER, prefdata.FormatMultiPref}
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		opt := prefdata.LoadOptions{Format: formats[int(format)%len(formats)]}
		ds, err := prefdata.Read(bytes.NewReader(data), "fuzz.jsonl", opt)
		if err != nil {
			return
		}
		for _, in := range ds.Instances {
			if in.Human == prefdata.PrefNone || in.LM == prefdata.PrefNone {
				t.Fatalf("instance %q has a missing human or LM label: %+v", in.ID, in)
			}
		}
	})
}
