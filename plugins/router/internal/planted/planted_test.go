package planted

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
)

func TestPlantedRoundTrip(t *testing.T) {
	c := Default(500, 4)
	ds, err := Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	// The planted structure: LM accuracy collapses on the planted subject
	// only; humans are uniformly noisy.
	var lmP, lmO, hP, hO, nP, nO float64
	for _, in := range ds.Instances {
		if in.Tags["subject_of_expertise"][0] == c.Planted {
			nP++
			lmP += b2f(in.LM == in.Gold)
			hP += b2f(in.Human == in.Gold)
		} else {
			nO++
			lmO += b2f(in.LM == in.Gold)
			hO += b2f(in.Human == in.Gold)
		}
	}
	t.Logf("planted %.0f: lm %.2f human %.2f; others %.0f: lm %.2f human %.2f", nP, lmP/nP, hP/nP, nO, lmO/nO, hO/nO)
	if !(lmP/nP < 0.3 && lmO/nO > 0.9 && hP/nP > 0.6 && hO/nO < 0.8) {
		t.Errorf("planted structure missing")
	}
	var buf bytes.Buffer
	if err := prefdata.WriteJSONL(&buf, ds.Instances); err != nil {
		t.Fatal(err)
	}
	back, err := prefdata.Read(&buf, "planted.jsonl", prefdata.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ds.Instances, back.Instances); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestNoWeakness: without the weakness humans and the LM err at the same
// rate on every subject, and there is no planted feature.
func TestNoWeakness(t *testing.T) {
	c := Default(4000, 5)
	c.NoWeakness = true
	ds, err := Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	if c.PlantedFeature() != "" {
		t.Errorf("PlantedFeature = %q, want none", c.PlantedFeature())
	}
	wrong := map[string][2]float64{} // subject → (LM, human) error counts
	n := map[string]float64{}
	for _, in := range ds.Instances {
		s := in.Tags["subject_of_expertise"][0]
		w := wrong[s]
		w[0] += b2f(in.LM != in.Gold)
		w[1] += b2f(in.Human != in.Gold)
		wrong[s] = w
		n[s]++
	}
	for s, w := range wrong {
		lm, human := w[0]/n[s], w[1]/n[s]
		t.Logf("%-22s n=%4.0f LM wrong %.3f, human wrong %.3f", s, n[s], lm, human)
		if lm < c.HumanFlip-0.07 || lm > c.HumanFlip+0.07 || human < c.HumanFlip-0.07 || human > c.HumanFlip+0.07 {
			t.Errorf("%s: LM wrong %.3f, human %.3f; want both ≈ %.2f", s, lm, human, c.HumanFlip)
		}
	}
}
