// Package prefs reads community preference pairs (the ComPRed layout, a
// plain JSONL layout, Anthropic HH-RLHF transcripts), filters them as
// ComPRed does, splits them by post and turns them into conditioned prompts.
package prefs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/shammie-ml/shammie/sdk/datafile"
)

// Pair is one preference: after the post, Chosen beats Rejected in
// Community's judgement.
type Pair struct {
	Community string  `json:"community"`
	PostID    string  `json:"post_id"`
	Title     string  `json:"title,omitempty"`
	Post      string  `json:"post"`
	Chosen    string  `json:"chosen"`
	Rejected  string  `json:"rejected"`
	Ratio     float64 `json:"score_ratio,omitempty"` // ComPRed: score of the preferred ÷ the other (0: unknown)
	// Source is "file:line", for messages.
	Source string `json:"-"`
}

// Layouts are the input layouts Load reads.
var Layouts = []string{"jsonl", "compred", "hh"}

// compredRow is one row of ComPRed (SHP-style: two human replies to a
// Reddit post with their scores). labels = 1 means A is preferred.
type compredRow struct {
	Domain     *string  `json:"domain"`
	PostID     *string  `json:"post_id"`
	History    *string  `json:"history"`
	Title      *string  `json:"title"`
	RefA       *string  `json:"human_ref_A"`
	RefB       *string  `json:"human_ref_B"`
	ScoreA     *float64 `json:"score_A"`
	ScoreB     *float64 `json:"score_B"`
	Labels     *int     `json:"labels"`
	ScoreRatio *float64 `json:"score_ratio"`
}

// plainRow is the plain layout (what sft writes as its split files).
type plainRow struct {
	Community string   `json:"community"`
	PostID    string   `json:"post_id"`
	Title     string   `json:"title"`
	Post      *string  `json:"post"`
	Chosen    *string  `json:"chosen"`
	Rejected  *string  `json:"rejected"`
	Ratio     *float64 `json:"score_ratio"`
}

type hhRow struct {
	Chosen   *string `json:"chosen"`
	Rejected *string `json:"rejected"`
}

// AssistantTurn is the marker HH-RLHF transcripts end their prompt with.
const AssistantTurn = "\n\nAssistant:"

// Load reads path (JSON Lines, gzipped or not) in the given layout through
// sdk/datafile: errors name the file and line; unknown fields are errors
// except in compred (its rows carry more). community names the pairs of
// layouts without one (hh; jsonl rows without "community").
func Load(path, layout, community string) ([]Pair, error) {
	if !slices.Contains(Layouts, layout) {
		return nil, fmt.Errorf("unknown layout %q (want one of %s)", layout, strings.Join(Layouts, ", "))
	}
	r, err := datafile.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Pair
	err = datafile.Lines(r, path, datafile.Options{}, func(line int, raw []byte) error {
		p, err := parseRow(raw, layout, community, line)
		if err != nil {
			return err
		}
		p.Source = fmt.Sprintf("%s:%d", path, line)
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no pairs (expected one JSON object per line)", path)
	}
	return out, nil
}

func parseRow(raw []byte, layout, community string, line int) (Pair, error) {
	switch layout {
	case "compred":
		r, err := decode[compredRow](raw, true)
		if err != nil {
			return Pair{}, err
		}
		return r.pair()
	case "hh":
		r, err := decode[hhRow](raw, false)
		if err != nil {
			return Pair{}, err
		}
		return r.pair(community, line)
	}
	r, err := decode[plainRow](raw, false)
	if err != nil {
		return Pair{}, err
	}
	return r.pair(community, line)
}

// decode is datafile's JSON-lines decoding of one line.
func decode[T any](raw []byte, lenient bool) (T, error) {
	var v T
	err := datafile.EachJSONL(bytes.NewReader(raw), "", datafile.Options{Lenient: lenient}, func(_ int, x T) error {
		v = x
		return nil
	})
	var le *datafile.LineError
	if errors.As(err, &le) {
		err = le.Err // the caller's line, not this one-line reader's
	}
	return v, err
}

func missing(fields map[string]bool) error {
	var names []string
	for n, ok := range fields {
		if !ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	return fmt.Errorf("missing field(s) %s", strings.Join(names, ", "))
}

func (r compredRow) pair() (Pair, error) {
	if err := missing(map[string]bool{"domain": r.Domain != nil, "post_id": r.PostID != nil, "history": r.History != nil,
		"human_ref_A": r.RefA != nil, "human_ref_B": r.RefB != nil, "labels": r.Labels != nil}); err != nil {
		return Pair{}, err
	}
	p := Pair{Community: *r.Domain, PostID: *r.PostID, Post: *r.History}
	if r.Title != nil {
		p.Title = *r.Title
	}
	switch *r.Labels {
	case 1:
		p.Chosen, p.Rejected = *r.RefA, *r.RefB
	case 0:
		p.Chosen, p.Rejected = *r.RefB, *r.RefA
	default:
		return Pair{}, fmt.Errorf("labels is %d, want 1 (A preferred) or 0 (B preferred)", *r.Labels)
	}
	switch {
	case r.ScoreRatio != nil:
		p.Ratio = *r.ScoreRatio
	case r.ScoreA != nil && r.ScoreB != nil:
		hi, lo := max(*r.ScoreA, *r.ScoreB), min(*r.ScoreA, *r.ScoreB)
		if lo > 0 {
			p.Ratio = hi / lo
		}
	}
	return p, p.check()
}

func (r plainRow) pair(community string, line int) (Pair, error) {
	if err := missing(map[string]bool{"post": r.Post != nil, "chosen": r.Chosen != nil, "rejected": r.Rejected != nil}); err != nil {
		return Pair{}, err
	}
	p := Pair{Community: r.Community, PostID: r.PostID, Title: r.Title, Post: *r.Post, Chosen: *r.Chosen, Rejected: *r.Rejected}
	if p.Community == "" {
		p.Community = community
	}
	if p.PostID == "" {
		p.PostID = fmt.Sprintf("line-%d", line)
	}
	if r.Ratio != nil {
		p.Ratio = *r.Ratio
	}
	return p, p.check()
}

// pair splits two HH transcripts after the last "\n\nAssistant:" of the
// dialogue they share: that dialogue is the post, the rest the replies.
// Normally the shared part ends at each transcript's last assistant turn;
// a few rows (line 1255 of harmless-base test) have a chosen transcript
// with extra turns, and cutting at the shared turn keeps them well formed.
func (r hhRow) pair(community string, line int) (Pair, error) {
	if err := missing(map[string]bool{"chosen": r.Chosen != nil, "rejected": r.Rejected != nil}); err != nil {
		return Pair{}, err
	}
	c, rj := *r.Chosen, *r.Rejected
	n := 0
	for n < len(c) && n < len(rj) && c[n] == rj[n] {
		n++
	}
	cut := strings.LastIndex(c[:n], AssistantTurn)
	if cut < 0 {
		return Pair{}, fmt.Errorf("chosen and rejected share no dialogue ending in %q", AssistantTurn)
	}
	cut += len(AssistantTurn)
	p := Pair{Community: community, PostID: fmt.Sprintf("line-%d", line), Post: c[:cut], Chosen: c[cut:], Rejected: rj[cut:]}
	return p, p.check()
}

func (p Pair) check() error {
	switch {
	case p.Community == "":
		return fmt.Errorf("no community (set the config's community for layouts without one)")
	case p.Chosen == "" || p.Rejected == "":
		return fmt.Errorf("empty chosen or rejected response")
	case p.Chosen == p.Rejected:
		return fmt.Errorf("chosen and rejected are the same text")
	}
	for _, s := range []string{p.Community, p.Title, p.Post, p.Chosen, p.Rejected} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("invalid UTF-8")
		}
	}
	return nil
}

// Filter keeps, as ComPRed does, the pairs whose score ratio is at least
// minRatio (pairs of unknown ratio are kept: layouts without scores) and at
// most maxPerPost pairs of each post (0: no limit), drawn with seed. The
// result keeps the input order.
func Filter(pairs []Pair, minRatio float64, maxPerPost int, seed int64) []Pair {
	byPost := map[string][]int{}
	var posts []string
	for i, p := range pairs {
		if p.Ratio != 0 && p.Ratio < minRatio {
			continue
		}
		key := p.Community + "\x00" + p.PostID
		if _, ok := byPost[key]; !ok {
			posts = append(posts, key)
		}
		byPost[key] = append(byPost[key], i)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x636f6d706f)) // "compo"
	keep := make([]bool, len(pairs))
	for _, key := range posts {
		idx := byPost[key]
		if maxPerPost > 0 && len(idx) > maxPerPost {
			rng.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
			idx = idx[:maxPerPost]
		}
		for _, i := range idx {
			keep[i] = true
		}
	}
	var out []Pair
	for i, p := range pairs {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// Split holds out about testFraction of the posts (every pair of a post on
// the same side, so no post is both trained and tested on), chosen by a
// hash of (seed, community, post id): the split of a post does not depend
// on the other rows of the file.
func Split(pairs []Pair, testFraction float64, seed int64) (train, test []Pair) {
	for _, p := range pairs {
		if heldOut(p, testFraction, seed) {
			test = append(test, p)
		} else {
			train = append(train, p)
		}
	}
	return train, test
}

func heldOut(p Pair, frac float64, seed int64) bool {
	h := uint64(14695981039346656037) ^ uint64(seed)*0x9e3779b97f4a7c15
	for _, s := range []string{p.Community, "\x00", p.PostID} {
		for i := range len(s) {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return float64(h>>11)/float64(1<<53) < frac
}

// Save writes pairs in the plain layout.
func Save(path string, pairs []Pair) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, p := range pairs {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Communities lists the pairs' communities, sorted.
func Communities(pairs []Pair) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pairs {
		if !seen[p.Community] {
			seen[p.Community] = true
			out = append(out, p.Community)
		}
	}
	sort.Strings(out)
	return out
}
