package ui

import (
	"net/http"
	"sort"
	"strings"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// sweepView is GET /api/runs/{run}/sweep?step=NAME: the instances of a
// for_each or count step with their config, outputs and final metrics, each
// flattened to attribute path -> JSON leaf as `runs diff` compares them.
type sweepView struct {
	Run       string          `json:"run"`
	Step      string          `json:"step"`
	Instances []sweepInstance `json:"instances"`
	// Swept are the config paths whose value differs between instances,
	// plus "key" (the instance key): what one plots against.
	Swept []string `json:"swept"`
	// Values are the output and metric names one plots: "output.NAME",
	// "metric.NAME" (final value).
	Values []string `json:"values"`
}

type sweepInstance struct {
	Address string            `json:"address"`
	Key     string            `json:"key"`
	Status  runstore.Status   `json:"status"`
	Config  map[string]string `json:"config"`
	Values  map[string]string `json:"values"`
}

// instanceKey splits `step.NAME[KEY]` into NAME and KEY (KEY as written:
// "\"a\"" or "2"); ok is false for a step without instances.
func instanceKey(address string) (name, key string, ok bool) {
	rest, found := strings.CutPrefix(address, "step.")
	if !found {
		return "", "", false
	}
	i := strings.IndexByte(rest, '[')
	if i < 0 || !strings.HasSuffix(rest, "]") {
		return rest, "", false
	}
	return rest[:i], rest[i+1 : len(rest)-1], true
}

func (s *Server) handleSweep(w http.ResponseWriter, r *http.Request) {
	run, err := s.loadRun(r)
	if err != nil {
		writeError(w, err)
		return
	}
	want := r.URL.Query().Get("step")
	v := sweepView{Run: run.Record.ID, Step: want, Instances: []sweepInstance{}, Swept: []string{"key"}, Values: []string{}}
	values := map[string]bool{}
	first := map[string]string{}
	varies := map[string]bool{}
	for _, st := range run.Steps {
		name, key, ok := instanceKey(st.Address)
		if !ok || name != want {
			continue
		}
		cfg, err := st.Config.Flatten()
		if err != nil {
			writeError(w, err)
			return
		}
		inst := sweepInstance{Address: st.Address, Key: key, Status: st.Status, Config: cfg, Values: map[string]string{}}
		for k, o := range st.Outputs {
			flat, err := o.Flatten()
			if err != nil {
				writeError(w, err)
				return
			}
			for p, leaf := range flat {
				name := "output." + k
				if p != "" {
					name = "output." + k + "." + p
				}
				inst.Values[name] = leaf
			}
		}
		pts, err := s.metrics.points(run, st.Address)
		if err != nil {
			writeError(w, err)
			return
		}
		for name, p := range runstore.FinalMetrics(pts) {
			inst.Values["metric."+name] = runstore.FormatFloat(float64(p.Value))
		}
		for k := range inst.Values {
			values[k] = true
		}
		for k, leaf := range cfg {
			if prev, seen := first[k]; !seen && len(v.Instances) == 0 {
				first[k] = leaf
			} else if prev != leaf {
				varies[k] = true
			}
		}
		for k := range first {
			if _, ok := cfg[k]; !ok {
				varies[k] = true
			}
		}
		v.Instances = append(v.Instances, inst)
	}
	if len(v.Instances) == 0 {
		writeError(w, errorf(http.StatusNotFound, "run %s has no instances of step %q (a for_each or count step)", run.Record.ID, want))
		return
	}
	for k := range varies {
		v.Swept = append(v.Swept, k)
	}
	sort.Strings(v.Swept[1:])
	for k := range values {
		v.Values = append(v.Values, k)
	}
	sort.Strings(v.Values)
	writeJSON(w, v)
}
