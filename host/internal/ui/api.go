package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/shammie-ml/shammie/host/internal/report"
	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// httpError is an error with the status code to answer it with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		// Headers are gone already; the client sees a truncated body.
		return
	}
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// loadRun loads the run named in the path ({run}: an id, a prefix or
// "latest").
func (s *Server) loadRun(r *http.Request) (*runstore.LoadedRun, error) {
	run, err := s.store.Load(r.PathValue("run"))
	if err != nil {
		return nil, errorf(http.StatusNotFound, "%v", err)
	}
	return run, nil
}

// loadStep loads the run of the request and finds in it the step instance
// named by the "step" query parameter.
func (s *Server) loadStep(r *http.Request) (*runstore.LoadedRun, *runstore.StepRecord, error) {
	run, err := s.loadRun(r)
	if err != nil {
		return nil, nil, err
	}
	addr := r.URL.Query().Get("step")
	st, ok := run.Step(addr)
	if !ok {
		return nil, nil, errorf(http.StatusNotFound, "run %s has no step %q", run.Record.ID, addr)
	}
	return run, st, nil
}

// runsView is GET /api/runs.
type runsView struct {
	Runs  []runstore.RunSummary `json:"runs"`
	Total int                   `json:"total"`
	// Specs are the distinct spec paths of all runs, for the filter.
	Specs []string `json:"specs"`
}

// handleRuns lists the runs, newest first, filtered by ?spec= (a spec path
// or a part of one) and ?status=.
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	all, err := s.store.List()
	if err != nil {
		writeError(w, err)
		return
	}
	spec, status := r.URL.Query().Get("spec"), r.URL.Query().Get("status")
	v := runsView{Runs: []runstore.RunSummary{}, Total: len(all)}
	specs := map[string]bool{}
	for _, run := range all {
		match := spec == ""
		for _, p := range run.Spec {
			specs[p] = true
			match = match || strings.Contains(p, spec)
		}
		if match && (status == "" || string(run.Status) == status) {
			v.Runs = append(v.Runs, run)
		}
	}
	for p := range specs {
		v.Specs = append(v.Specs, p)
	}
	sort.Strings(v.Specs)
	writeJSON(w, v)
}

// runView is GET /api/runs/{run}: what `runs show --json` prints, with the
// files each step left in its work directory.
type runView struct {
	report.ShowView
	Files map[string][]fileInfo `json:"files"`
}

type fileInfo struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.loadRun(r)
	if err != nil {
		writeError(w, err)
		return
	}
	v := runView{ShowView: report.ShowView{Run: run.Record, Steps: []report.StepView{}}, Files: map[string][]fileInfo{}}
	for _, st := range run.Steps {
		pts, err := s.metrics.points(run, st.Address)
		if err != nil {
			writeError(w, err)
			return
		}
		v.Steps = append(v.Steps, report.StepView{StepRecord: st, Metrics: report.SummarizeMetrics(pts)})
		if files := workFiles(run, st.Address); len(files) > 0 {
			v.Files[st.Address] = files
		}
	}
	writeJSON(w, v)
}

// maxListedFiles bounds the work-directory listing of one step.
const maxListedFiles = 200

// workFiles lists the regular files of a step's work directory (not
// following symlinks).
func workFiles(run *runstore.LoadedRun, addr string) []fileInfo {
	dir, err := run.WorkDir(addr)
	if err != nil {
		return nil
	}
	var out []fileInfo
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || len(out) >= maxListedFiles {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, fileInfo{Path: filepath.ToSlash(rel), Size: fi.Size()})
			}
		}
		return nil
	})
	return out
}

// maxLogEvents is how many of a step's last non-metric events /logs returns.
const maxLogEvents = 1000

// handleLogs returns a step's events other than metrics (logs, progress,
// outputs, artifacts, status), the last maxLogEvents of them.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	run, st, err := s.loadStep(r)
	if err != nil {
		writeError(w, err)
		return
	}
	evs, _, err := run.EventsFrom(st.Address, 0)
	if err != nil {
		writeError(w, err)
		return
	}
	out := []runstore.Event{}
	for _, e := range evs {
		if e.Kind != "metric" {
			out = append(out, e)
		}
	}
	total := len(out)
	if len(out) > maxLogEvents {
		out = out[len(out)-maxLogEvents:]
	}
	writeJSON(w, map[string]any{"events": out, "total": total, "stderr_tail": st.StderrTail})
}

// seriesView is GET /api/runs/{run}/metrics: one metric of one step as
// columns, downsampled to at most max points.
type seriesView struct {
	Run   string    `json:"run"`
	Step  string    `json:"step"`
	Name  string    `json:"name"`
	Total int       `json:"total"` // points recorded
	X     []float64 `json:"x"`
	Y     []float64 `json:"y"`
	// Downsampled is true when X, Y hold fewer points than were recorded
	// (in the range asked for).
	Downsampled bool `json:"downsampled"`
	// Range is true when the series was cut to ?from=&to=.
	Range bool `json:"range,omitempty"`
	// InRange counts the finite points in the range, before downsampling.
	InRange int `json:"in_range"`
	// NonFinite counts the NaN and ±Inf values left out of the chart.
	NonFinite int `json:"non_finite"`
}

// defaultMaxPoints is the chart's resolution when the client names none:
// about two points per pixel of a wide chart.
const defaultMaxPoints = 4000

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	run, st, err := s.loadStep(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	name := q.Get("name")
	maxPts := defaultMaxPoints
	if m := q.Get("max"); m != "" {
		if maxPts, err = strconv.Atoi(m); err != nil || maxPts < 3 {
			writeError(w, errorf(http.StatusBadRequest, "max must be an integer ≥ 3, not %q", m))
			return
		}
	}
	pts, err := s.metrics.points(run, st.Address)
	if err != nil {
		writeError(w, err)
		return
	}
	v := seriesView{Run: run.Record.ID, Step: st.Address, Name: name, X: []float64{}, Y: []float64{}}
	for _, p := range pts {
		if p.Name != name {
			continue
		}
		v.Total++
		y := float64(p.Value)
		if math.IsNaN(y) || math.IsInf(y, 0) {
			v.NonFinite++
			continue
		}
		v.X = append(v.X, float64(p.Step))
		v.Y = append(v.Y, y)
	}
	sortByX(v.X, v.Y)
	// ?from=&to= narrow the series to a range of steps (a zoomed chart asks
	// for its window at full resolution), keeping one point beyond each end
	// so the line runs to the edges.
	if from, to := q.Get("from"), q.Get("to"); from != "" || to != "" {
		lo, hi := 0, len(v.X)
		if x, err := strconv.ParseFloat(from, 64); err == nil {
			lo = max(sort.SearchFloat64s(v.X, x)-1, 0)
		}
		if x, err := strconv.ParseFloat(to, 64); err == nil {
			hi = min(sort.Search(len(v.X), func(i int) bool { return v.X[i] > x })+1, len(v.X))
		}
		if lo > hi {
			lo = hi
		}
		v.X, v.Y = v.X[lo:hi], v.Y[lo:hi]
		v.Range = true
	}
	v.InRange = len(v.X)
	if len(v.X) > maxPts {
		v.X, v.Y = LTTB(v.X, v.Y, maxPts)
		v.Downsampled = true
	}
	writeJSON(w, v)
}

// sortByX sorts the points by x if they are not already (a resumed step
// can record a step twice; the order among equal x is kept).
func sortByX(x, y []float64) {
	if sort.Float64sAreSorted(x) {
		return
	}
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	x2, y2 := make([]float64, len(x)), make([]float64, len(y))
	for i, j := range idx {
		x2[i], y2[i] = x[j], y[j]
	}
	copy(x, x2)
	copy(y, y2)
}

// artifact finds the artifact named by ?step= and ?name= and checks that
// its store path is an object of this store with the recorded hash: the
// records decide what can be read, never a path from the request.
func (s *Server) artifact(r *http.Request) (*runstore.LoadedRun, runstore.ArtifactRecord, error) {
	run, st, err := s.loadStep(r)
	if err != nil {
		return nil, runstore.ArtifactRecord{}, err
	}
	name := r.URL.Query().Get("name")
	a, ok := st.Artifacts[name]
	if !ok {
		return nil, a, errorf(http.StatusNotFound, "step %s has no artifact %q", st.Address, name)
	}
	sha, ok := s.store.ObjectSHA(filepath.Clean(a.StorePath))
	if !ok || sha != strings.ToLower(a.SHA256) || filepath.Clean(a.StorePath) != a.StorePath {
		return nil, a, errorf(http.StatusForbidden, "artifact %q of %s is not an object of this store", name, st.Address)
	}
	return run, a, nil
}

// handleArtifact serves an artifact's bytes: inline for previews, as an
// attachment with ?download=1.
func (s *Server) handleArtifact(w http.ResponseWriter, r *http.Request) {
	_, a, err := s.artifact(r)
	if err != nil {
		writeError(w, err)
		return
	}
	serveFile(w, r, a.StorePath, a.MediaType, path.Base(filepath.ToSlash(a.RelPath)), r.URL.Query().Get("download") != "")
}

// handleFile serves a file of a step's work directory: /files/{path}?step=.
// The path is opened through an os.Root at the work directory, which refuses
// ".." and symlinks that lead out of it.
func (s *Server) handleFile(w http.ResponseWriter, r *http.Request) {
	run, st, err := s.loadStep(r)
	if err != nil {
		writeError(w, err)
		return
	}
	rel := r.PathValue("path")
	if !validRelPath(rel) {
		writeError(w, errorf(http.StatusBadRequest, "refused: %q is not a path inside the step's work directory", rel))
		return
	}
	dir, err := run.WorkDir(st.Address)
	if err != nil {
		writeError(w, err)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "step %s has no work directory", st.Address))
		return
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "refused or missing: %q in the work directory of %s", rel, st.Address))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, errorf(http.StatusNotFound, "%q is not a regular file", rel))
		return
	}
	setDownloadHeaders(w, "", path.Base(rel), r.URL.Query().Get("download") != "")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// validRelPath accepts slash-separated relative paths without "." or ".."
// elements, backslashes or NULs.
func validRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

func serveFile(w http.ResponseWriter, r *http.Request, file, mediaType, name string, download bool) {
	f, err := os.Open(file)
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "artifact object missing: %v", err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		writeError(w, err)
		return
	}
	setDownloadHeaders(w, mediaType, name, download)
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// setDownloadHeaders types the response and keeps whatever it holds from
// running as part of the dashboard (an SVG or HTML artifact is inert:
// sandboxed, no scripts).
func setDownloadHeaders(w http.ResponseWriter, mediaType, name string, download bool) {
	h := w.Header()
	if mediaType == "" {
		mediaType = mime.TypeByExtension(path.Ext(name))
	}
	if mediaType == "" {
		mediaType = "application/octet-stream"
	}
	h.Set("Content-Type", mediaType)
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'")
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": name}))
}

// diffView is GET /api/diff?a=&b=: the data of `runs diff` and the two
// runs' variables for a side-by-side view.
type diffView struct {
	Diff *runstore.Diff `json:"diff"`
	A    diffSide       `json:"a"`
	B    diffSide       `json:"b"`
}

type diffSide struct {
	ID        string                    `json:"id"`
	Status    runstore.Status           `json:"status"`
	Spec      []runstore.SpecFile       `json:"spec"`
	Variables map[string]runstore.Value `json:"variables"`
	Steps     int                       `json:"steps"`
}

func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a, err := s.store.Load(q.Get("a"))
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "%v", err))
		return
	}
	b, err := s.store.Load(q.Get("b"))
	if err != nil {
		writeError(w, errorf(http.StatusNotFound, "%v", err))
		return
	}
	d, err := runstore.DiffRuns(a, b)
	if err != nil {
		writeError(w, err)
		return
	}
	side := func(run *runstore.LoadedRun) diffSide {
		return diffSide{ID: run.Record.ID, Status: run.Record.Status, Spec: run.Record.Spec, Variables: run.Record.Variables, Steps: len(run.Steps)}
	}
	writeJSON(w, diffView{Diff: d, A: side(a), B: side(b)})
}
