package pluginhost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// tailBuffer keeps the last n lines written to it, for crash reports. hclog
// JSON lines are rendered readably ("[ERROR] message key=value") because a
// crash report is read by a person.
//
// A Go crash prints "panic: ..." (or "fatal error: ...") and then a stack
// trace that is often longer than the tail; that first line is the one a
// reader needs, so it is kept and shown even when it scrolled out.
type tailBuffer struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
	crash   string // first "panic: "/"fatal error: " line seen
	dropped bool   // crash is no longer among lines
}

func newTail(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	// A line longer than 64 KiB is kept truncated rather than buffered forever.
	if len(t.partial) > 64<<10 {
		t.add(string(t.partial[:64<<10]) + "…")
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *tailBuffer) add(line string) {
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return
	}
	if t.crash == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		t.crash = line
	}
	t.lines = append(t.lines, renderLogLine(line))
	if len(t.lines) > t.n {
		drop := len(t.lines) - t.n
		for _, l := range t.lines[:drop] {
			if t.crash != "" && l == t.crash {
				t.dropped = true
			}
		}
		t.lines = append(t.lines[:0:0], t.lines[drop:]...)
	}
}

// String returns the kept lines, oldest first, including an unterminated
// last line.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if len(t.partial) > 0 {
		lines = append(append([]string(nil), lines...), string(t.partial))
		if len(lines) > t.n {
			lines = lines[len(lines)-t.n:]
		}
	}
	out := strings.Join(lines, "\n")
	if t.dropped {
		out = t.crash + "\n[…]\n" + out
	}
	return out
}

func renderLogLine(line string) string {
	if !strings.HasPrefix(line, "{") {
		return line
	}
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return line
	}
	msg, ok := m["@message"].(string)
	if !ok {
		return line
	}
	var b strings.Builder
	if lvl, ok := m["@level"].(string); ok {
		fmt.Fprintf(&b, "[%s] ", strings.ToUpper(lvl))
	}
	b.WriteString(msg)
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			if strings.Contains(v, "\n") {
				fmt.Fprintf(&b, "\n  %s:\n    %s", k, strings.ReplaceAll(strings.TrimRight(v, "\n"), "\n", "\n    "))
				continue
			}
			fmt.Fprintf(&b, " %s=%q", k, v)
		default:
			fmt.Fprintf(&b, " %s=%v", k, v)
		}
	}
	return b.String()
}
