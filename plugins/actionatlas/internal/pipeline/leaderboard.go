package pipeline

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Entry is one row of the ActionAtlas leaderboard
// (../shared/data/actionatlas/leaderboard_website.csv).
type Entry struct {
	Model    string  `json:"model"`
	Type     string  `json:"type"`   // open, proprietary, human, baseline
	Frames   string  `json:"frames"` // as printed: "16", "1 fps", "all frames (…)", ""
	Accuracy float64 `json:"accuracy_pct"`
}

// FrameCount is the entry's frame count when it is a number.
func (e Entry) FrameCount() (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(e.Frames))
	return n, err == nil && n > 0
}

// LoadLeaderboard reads the leaderboard CSV (header model, type,
// input_frames, …, accuracy_pct); errors name the file and line.
func LoadLeaderboard(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: no rows under the header", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, need := range []string{"model", "type", "input_frames", "accuracy_pct"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s: no %q column (header %v)", path, need, rows[0])
		}
	}
	var out []Entry
	for i, r := range rows[1:] {
		acc, err := strconv.ParseFloat(strings.TrimSpace(r[col["accuracy_pct"]]), 64)
		if err != nil || acc < 0 || acc > 100 {
			return nil, fmt.Errorf("%s:%d: accuracy_pct %q is not a percentage", path, i+2, r[col["accuracy_pct"]])
		}
		out = append(out, Entry{Model: r[col["model"]], Type: r[col["type"]], Frames: r[col["input_frames"]], Accuracy: acc})
	}
	return out, nil
}
