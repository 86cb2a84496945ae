package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/wire"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// RunRequest is one step to execute.
type RunRequest struct {
	RunID    string
	Step     string
	Config   cty.Value // fully known
	WorkDir  string    // absolute; artifacts must be inside it
	StateDir string    // absolute; survives crashes, reused on resume
	Seed     int64
	Backend  string // "go" or "xla:<name>"
}

// Run executes a step, calling onEvent (from the calling goroutine, in
// order) for every event but the final status, which it returns.
//
// When ctx is cancelled, Run asks the plugin to stop and waits up to the
// grace period for its Cancelled status before killing it. An error means
// there is no trustworthy status: the plugin crashed (the error then carries
// its exit status and stderr tail), broke the protocol, or was killed.
//
// Artifacts are checked before onEvent sees them (see [Artifact]); a plugin
// announcing a file outside its work dir fails the step even if it reports
// success.
func (c *Client) Run(ctx context.Context, req RunRequest, onEvent func(Event)) (Status, error) {
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	if !filepath.IsAbs(req.WorkDir) {
		return Status{}, fmt.Errorf("run %s: work dir %q is not absolute", req.Step, req.WorkDir)
	}
	cfg, err := wire.W.EncodeValue(req.Config)
	if err != nil {
		return Status{}, fmt.Errorf("encoding config of step %s: %w", req.Step, err)
	}
	if len(cfg.Unknowns) > 0 {
		return Status{}, fmt.Errorf("config of step %s still has unknown values; run its upstream steps first", req.Step)
	}
	// The stream is not tied to ctx: cancelling it would cut the plugin off
	// before it can report how it stopped. ctx is handled below with Stop.
	streamCtx, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	stream, err := c.rpc.Run(streamCtx, &pluginv1.RunRequest{
		RunId: req.RunID, Step: req.Step, Config: cfg, WorkDir: req.WorkDir,
		StateDir: req.StateDir, Seed: req.Seed, Backend: req.Backend,
	})
	if err != nil {
		return Status{}, c.rpcError("Run", err)
	}

	finished := make(chan struct{})
	defer close(finished)
	gaveUp := make(chan struct{}) // closed when the grace period ran out
	go func() {
		select {
		case <-finished:
			return
		case <-ctx.Done():
		}
		stop := &pluginv1.StopRequest{Reason: fmt.Sprint(context.Cause(ctx)), RunId: req.RunID, Step: req.Step}
		deadline := time.After(c.grace)
		// Repeat the Stop: one sent before the plugin registered the Run
		// (it was cancelled right away) would match nothing.
		for {
			stopCtx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = c.rpc.Stop(stopCtx, stop)
			cancel()
			select {
			case <-finished:
				return
			case <-deadline:
				close(gaveUp)
				c.forceKill()
				cancelStream()
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()

	var (
		status  *Status
		refused error // first artifact refused
	)
	for {
		ev, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			select {
			case <-gaveUp:
				return Status{}, fmt.Errorf("plugin %s did not stop step %s within %s of being asked to; killed it", c.name, req.Step, c.grace)
			default:
			}
			return Status{}, c.rpcError("Run of step "+req.Step, err)
		}
		if status != nil {
			return Status{}, fmt.Errorf("plugin %s broke the protocol: an event after the final status of step %s", c.name, req.Step)
		}
		e, err := decodeEvent(ev)
		if err != nil {
			return Status{}, fmt.Errorf("plugin %s sent an invalid event in step %s: %w", c.name, req.Step, err)
		}
		switch e := e.(type) {
		case Status:
			status = &e
			continue
		case Artifact:
			if err := checkArtifact(req.WorkDir, e); err != nil {
				if refused == nil {
					refused = err
				}
				continue
			}
		}
		onEvent(e)
	}
	if status == nil {
		if crashed := c.crashError("step " + req.Step); crashed != nil {
			return Status{}, crashed
		}
		return Status{}, fmt.Errorf("plugin %s ended step %s without a final status", c.name, req.Step)
	}
	if refused != nil && status.State == Succeeded {
		status.State = Failed
		status.Message = refused.Error()
	}
	return *status, nil
}

// checkArtifact re-does the plugin's own check on the host side: a plugin
// not built with this SDK (or a buggy one) must not make the host read
// outside the step's directory.
func checkArtifact(workDir string, a Artifact) error {
	sum, size, err := sdk.HashArtifact(workDir, filepath.FromSlash(a.Path))
	if err != nil {
		return fmt.Errorf("artifact %q refused: %w", a.Name, err)
	}
	if sum != a.SHA256 || size != a.Size {
		return fmt.Errorf("artifact %q refused: %s has sha256 %s (%d bytes) but the plugin announced %s (%d bytes); was it modified after being announced?", a.Name, a.Path, sum, size, a.SHA256, a.Size)
	}
	return nil
}

func decodeEvent(ev *pluginv1.Event) (Event, error) {
	t := time.Unix(0, ev.GetTimeUnixNano())
	switch k := ev.GetKind().(type) {
	case *pluginv1.Event_Progress:
		p := k.Progress
		return Progress{Time: t, Stage: p.Stage, Done: p.Done, Total: p.Total, Unit: p.Unit}, nil
	case *pluginv1.Event_Metric:
		m := k.Metric
		if m.TimeUnixNano != 0 {
			t = time.Unix(0, m.TimeUnixNano)
		}
		return Metric{Time: t, Name: m.Name, Step: m.Step, Value: m.Value}, nil
	case *pluginv1.Event_Log:
		l := k.Log
		lvl := LogInfo
		switch l.Level {
		case pluginv1.Log_DEBUG:
			lvl = LogDebug
		case pluginv1.Log_WARN:
			lvl = LogWarn
		case pluginv1.Log_ERROR:
			lvl = LogError
		}
		return Log{Time: t, Level: lvl, Message: l.Message}, nil
	case *pluginv1.Event_Artifact:
		a := k.Artifact
		return Artifact{Time: t, Name: a.Name, Path: a.Path, SHA256: a.Sha256, Size: a.Size, MediaType: a.MediaType}, nil
	case *pluginv1.Event_Output:
		o := k.Output
		v, err := wire.W.DecodeValue(o.Value)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", o.Name, err)
		}
		if v == cty.NilVal {
			return nil, fmt.Errorf("output %q has no value", o.Name)
		}
		return Output{Time: t, Name: o.Name, Value: v}, nil
	case *pluginv1.Event_Status:
		s := k.Status
		st := Status{Time: t, Message: s.Message}
		switch s.State {
		case pluginv1.Status_SUCCEEDED:
			st.State = Succeeded
		case pluginv1.Status_FAILED:
			st.State = Failed
		case pluginv1.Status_CANCELLED:
			st.State = Cancelled
		default:
			return nil, fmt.Errorf("status with unknown state %v", s.State)
		}
		diags, err := wire.W.DecodeDiagnostics(s.Diagnostics)
		if err != nil {
			return nil, err
		}
		if len(diags) > 0 {
			st.Diagnostics = diags
		}
		return st, nil
	default:
		return nil, errors.New("empty event")
	}
}
