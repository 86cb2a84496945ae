package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// liveSnapshot is the "snapshot" server-sent event: the run's status and
// each step's, sent whenever one changes.
type liveSnapshot struct {
	Status  runstore.Status `json:"status"`
	Message string          `json:"message,omitempty"`
	EndedAt *time.Time      `json:"ended_at,omitempty"`
	Steps   []liveStep      `json:"steps"`
}

type liveStep struct {
	Address    string          `json:"address"`
	Status     runstore.Status `json:"status"`
	CacheHit   bool            `json:"cache_hit"`
	DurationMS int64           `json:"duration_ms"`
	DependsOn  []string        `json:"depends_on,omitempty"`
}

// handleLive streams a run as server-sent events, tailing the step records
// and their events and metrics logs:
//
//	snapshot  liveSnapshot, at once and whenever a status changes
//	metrics   {"step": ADDR, "names": [...], "points": N}: new metric points
//	events    {"step": ADDR, "events": [...]}: new non-metric events
//	end       the run is over; the stream closes
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	run, err := s.loadRun(r)
	if err != nil {
		writeError(w, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, errorf(http.StatusInternalServerError, "streaming unsupported"))
		return
	}
	id := run.Record.ID
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	// Offsets start at the current ends: the page loaded what is there.
	evOff, mOff := map[string]int64{}, map[string]int64{}
	for _, st := range run.Steps {
		_, evOff[st.Address], _ = run.EventsFrom(st.Address, 0)
		_, mOff[st.Address], _ = run.MetricsFrom(st.Address, 0)
	}
	last := ""
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	for {
		snap := snapshotOf(run)
		b, _ := json.Marshal(snap)
		if string(b) != last {
			last = string(b)
			if !send("snapshot", snap) {
				return
			}
		}
		for _, st := range run.Steps {
			evs, next, err := run.EventsFrom(st.Address, evOff[st.Address])
			if err != nil {
				continue
			}
			evOff[st.Address] = next
			var shown []runstore.Event
			names := map[string]bool{}
			points := 0
			for _, e := range evs {
				if e.Kind == "metric" {
					names[e.Name] = true
					points++
					continue
				}
				shown = append(shown, e)
			}
			if len(shown) > 0 && !send("events", map[string]any{"step": st.Address, "events": shown}) {
				return
			}
			pts, next, err := run.MetricsFrom(st.Address, mOff[st.Address])
			if err == nil {
				mOff[st.Address] = next
				for _, p := range pts {
					names[p.Name] = true
				}
				points = max(points, len(pts))
			}
			if points > 0 {
				list := make([]string, 0, len(names))
				for n := range names {
					list = append(list, n)
				}
				if !send("metrics", map[string]any{"step": st.Address, "names": list, "points": points}) {
					return
				}
			}
		}
		if run.Record.Status.Done() {
			send("end", map[string]string{"status": string(run.Record.Status)})
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tick.C:
		}
		if run, err = s.store.Load(id); err != nil {
			send("error", map[string]string{"error": err.Error()})
			return
		}
	}
}

func snapshotOf(run *runstore.LoadedRun) liveSnapshot {
	snap := liveSnapshot{Status: run.Record.Status, Message: run.Record.Message, EndedAt: run.Record.EndedAt, Steps: []liveStep{}}
	for _, st := range run.Steps {
		snap.Steps = append(snap.Steps, liveStep{Address: st.Address, Status: st.Status, CacheHit: st.CacheHit, DurationMS: st.DurationMS, DependsOn: st.DependsOn})
	}
	return snap
}
