package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// RenderList writes `shammie runs list`: one line per run, newest first.
func RenderList(w io.Writer, runs []runstore.RunSummary) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "No runs yet. Start one with `shammie run <spec>`.")
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tDURATION\tSTEPS\tCACHED\tFAILED\tSPEC")
	for _, r := range runs {
		dur := "-"
		if r.EndedAt != nil {
			dur = formatDuration(r.EndedAt.Sub(r.StartedAt))
		}
		failed := r.StepStatus[runstore.StatusFailed]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", r.ID, r.Status,
			r.StartedAt.UTC().Format("2006-01-02 15:04:05"), dur, r.Steps, r.CacheHits, failed,
			strings.Join(r.Spec, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status == runstore.StatusDamaged {
			fmt.Fprintf(w, "run %s is damaged: %s\n", r.ID, r.Message)
		}
	}
	return nil
}

// RenderListJSON writes the runs as a JSON array.
func RenderListJSON(w io.Writer, runs []runstore.RunSummary) error {
	if runs == nil {
		runs = []runstore.RunSummary{}
	}
	return writeJSON(w, runs)
}

// ShowView is the JSON of `shammie runs show --json`: the run record and
// each step's record with its metric summaries.
type ShowView struct {
	Run   runstore.RunRecord `json:"run"`
	Steps []StepView         `json:"steps"`
}

// StepView is a step record with its metric summaries.
type StepView struct {
	runstore.StepRecord
	Metrics []MetricSummary `json:"metrics"`
}

// NewShowView gathers what `runs show` displays.
func NewShowView(run *runstore.LoadedRun) (*ShowView, error) {
	v := &ShowView{Run: run.Record, Steps: []StepView{}}
	for _, st := range run.Steps {
		pts, err := run.Metrics(st.Address)
		if err != nil {
			return nil, err
		}
		v.Steps = append(v.Steps, StepView{StepRecord: st, Metrics: SummarizeMetrics(pts)})
	}
	return v, nil
}

// RenderShowJSON writes ShowView as JSON.
func RenderShowJSON(w io.Writer, run *runstore.LoadedRun) error {
	v, err := NewShowView(run)
	if err != nil {
		return err
	}
	return writeJSON(w, v)
}

// RenderShow writes `shammie runs show`: the run header, a table of steps,
// metric summaries, artifacts with their store paths, and failures with the
// plugin's stderr tail.
func RenderShow(w io.Writer, run *runstore.LoadedRun) error {
	v, err := NewShowView(run)
	if err != nil {
		return err
	}
	rec := &v.Run
	fmt.Fprintf(w, "Run %s  %s\n", rec.ID, statusText(string(rec.Status), rec.Message))
	tw := newTable(w)
	var specs []string
	for _, s := range rec.Spec {
		specs = append(specs, s.Path)
	}
	fmt.Fprintf(tw, "  spec\t%s\n", strings.Join(specs, ", "))
	started := rec.StartedAt.UTC().Format("2006-01-02 15:04:05 MST")
	if rec.EndedAt != nil {
		started += " (took " + formatDuration(rec.EndedAt.Sub(rec.StartedAt)) + ")"
	}
	fmt.Fprintf(tw, "  started\t%s\n", started)
	fmt.Fprintf(tw, "  host\tshammie %s, seed %d, backends %s\n", rec.HostVersion, rec.Seed, strings.Join(rec.Backends, ", "))
	for _, p := range rec.Plugins {
		fmt.Fprintf(tw, "  plugin\t%s %s (sha256 %s)\n", p.Name, p.Version, shortSHA(p.SHA256))
	}
	if len(rec.Variables) > 0 {
		fmt.Fprintf(tw, "  variables\t%s\n", strings.Join(variableList(rec.Variables), ", "))
	}
	for _, name := range sortedKeys(rec.Outputs) {
		fmt.Fprintf(tw, "  output\t%s = %s\n", name, rec.Outputs[name].String())
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if len(v.Steps) == 0 {
		fmt.Fprintln(w, "No step ran.")
		return nil
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "STEP\tSTATUS\tDURATION\tCACHE\tSEED\tBACKEND\tOUTPUTS")
	for _, st := range v.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", st.Address, st.Status, formatDuration(st.Duration()),
			cacheText(&st.StepRecord), st.Seed, st.Backend, outputsText(st.Outputs, 40))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	hasMetrics, hasArtifacts := false, false
	for _, st := range v.Steps {
		hasMetrics = hasMetrics || len(st.Metrics) > 0
		hasArtifacts = hasArtifacts || len(st.Artifacts) > 0
	}
	if hasMetrics {
		fmt.Fprintln(w, "\nMETRICS")
		tw = newTable(w)
		fmt.Fprintln(tw, "STEP\tMETRIC\tPOINTS\tFINAL\tAT STEP\tMIN\tMAX")
		for _, st := range v.Steps {
			for _, m := range st.Metrics {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", st.Address, m.Name, m.Points,
					runstore.FormatFloat(float64(m.Final)), m.FinalStep,
					runstore.FormatFloat(float64(m.Min)), runstore.FormatFloat(float64(m.Max)))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if hasArtifacts {
		fmt.Fprintln(w, "\nARTIFACTS")
		tw = newTable(w)
		fmt.Fprintln(tw, "STEP\tARTIFACT\tSIZE\tMEDIA TYPE\tSTORE PATH")
		for _, st := range v.Steps {
			for _, name := range sortedKeys(st.Artifacts) {
				a := st.Artifacts[name]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", st.Address, name, FormatSize(a.Size), a.MediaType, a.StorePath)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, st := range v.Steps {
		if st.Status == runstore.StatusSucceeded || st.Status == runstore.StatusRunning {
			continue
		}
		if st.Message == "" && st.StderrTail == "" && len(st.Diagnostics) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s %s", st.Address, st.Status)
		if st.Message != "" {
			fmt.Fprintf(w, ": %s", st.Message)
		}
		fmt.Fprintln(w)
		for _, d := range st.Diagnostics {
			fmt.Fprintf(w, "  - %s\n", d)
		}
		if st.StderrTail != "" {
			fmt.Fprintln(w, "  plugin stderr (tail):")
			for _, line := range strings.Split(strings.TrimRight(st.StderrTail, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", line)
			}
		}
	}
	return nil
}

// RenderDiff writes `shammie runs diff`: what differs between two runs,
// "A -> B" per line, grouped by variables, plugins and steps.
func RenderDiff(w io.Writer, d *runstore.Diff) error {
	fmt.Fprintf(w, "--- a %s\n+++ b %s\n", d.A, d.B)
	if d.Empty() {
		_, err := fmt.Fprintln(w, "No differences in variables, plugins, step configs, outputs or final metrics.")
		return err
	}
	if d.Status != nil {
		fmt.Fprintf(w, "status: %s\n", changeText(*d.Status))
	}
	section := func(title string, cs []runstore.Change) {
		if len(cs) == 0 {
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, c := range cs {
			fmt.Fprintf(w, "  %s: %s\n", c.Key, changeText(c))
		}
	}
	section("variables", d.Variables)
	section("plugins", d.Plugins)
	for _, sd := range d.Steps {
		switch sd.OnlyIn {
		case "a":
			fmt.Fprintf(w, "%s: only in a\n", sd.Address)
			continue
		case "b":
			fmt.Fprintf(w, "%s: only in b\n", sd.Address)
			continue
		}
		fmt.Fprintf(w, "%s:\n", sd.Address)
		for _, c := range []*runstore.Change{sd.Status, sd.Plugin} {
			if c != nil {
				fmt.Fprintf(w, "  %s: %s\n", c.Key, changeText(*c))
			}
		}
		for _, group := range []struct {
			prefix string
			cs     []runstore.Change
		}{{"config.", sd.Config}, {"outputs.", sd.Outputs}, {"metrics.", sd.Metrics}} {
			for _, c := range group.cs {
				key := group.prefix + c.Key
				if c.Key == "" {
					key = strings.TrimSuffix(group.prefix, ".")
				}
				if group.prefix == "metrics." {
					key += " (final)"
				}
				fmt.Fprintf(w, "  %s: %s\n", key, changeText(c))
			}
		}
	}
	return nil
}

func changeText(c runstore.Change) string {
	a, b := c.A, c.B
	if !c.InA {
		a = "(absent)"
	}
	if !c.InB {
		b = "(absent)"
	}
	return a + " -> " + b
}

// RenderDiffJSON writes the diff as JSON.
func RenderDiffJSON(w io.Writer, d *runstore.Diff) error {
	return writeJSON(w, d)
}
