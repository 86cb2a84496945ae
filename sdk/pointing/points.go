// Package pointing holds Molmo's 2-D pointing output format (Deitke et al.
// 2024) — a parser and a formatter for <point>/<points> answers and counting
// answers — and Molmo's PointingEval metric. Plain Go.
//
// Formats (coordinates are percent of the image width/height, one decimal):
//
//	<point x="31.2" y="70.0" alt="cat">cat</point>
//	<points x1="10.0" y1="20.0" x2="55.5" y2="60.0" alt="cats">cats</points>
//	Counting the <points …>cats</points> shows a total of 2.
//	There are none.
package pointing

import (
	"fmt"
	"html"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Point is one pointed location in percent of the image (0–100).
type Point struct {
	X, Y float64
}

// Answer is a parsed answer: its points in order and the label of the
// element(s) holding them ("" when none).
type Answer struct {
	Points []Point
	Label  string
}

var (
	elemRe = regexp.MustCompile(`(?s)<(points?)((?:\s+[A-Za-z_][A-Za-z0-9_]*\s*=\s*"[^"]*")*)\s*>(.*?)</(points?)>`)
	attrRe = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"`)
	openRe = regexp.MustCompile(`<points?[\s>]|</points?>`)
)

// Parse extracts the points of every <point> and <points> element of text,
// in order. Text without any element is a valid answer with no points. It
// is an error (an invalid format, which PointingEval scores 0) when an
// element is malformed or unclosed, its tags disagree, an x/y attribute is
// missing, not a number, or outside 0–100, or <points> numbers are not
// 1…n in pairs.
func Parse(text string) (Answer, error) {
	var ans Answer
	matches := elemRe.FindAllStringSubmatchIndex(text, -1)
	covered := 0
	for _, m := range matches {
		// Anything that looks like a point tag between elements is malformed.
		if openRe.MatchString(text[covered:m[0]]) {
			return Answer{}, fmt.Errorf("pointing: malformed point element near byte %d", covered+openRe.FindStringIndex(text[covered:m[0]])[0])
		}
		covered = m[1]
		kind, attrs, closeKind := text[m[2]:m[3]], text[m[4]:m[5]], text[m[8]:m[9]]
		if kind != closeKind {
			return Answer{}, fmt.Errorf("pointing: <%s> closed by </%s> at byte %d", kind, closeKind, m[0])
		}
		kv := map[string]string{}
		for _, a := range attrRe.FindAllStringSubmatch(attrs, -1) {
			if _, dup := kv[a[1]]; dup {
				return Answer{}, fmt.Errorf("pointing: attribute %s repeated at byte %d", a[1], m[0])
			}
			kv[a[1]] = html.UnescapeString(a[2])
		}
		coord := func(name string) (float64, error) {
			s, ok := kv[name]
			if !ok {
				return 0, fmt.Errorf("pointing: <%s> at byte %d lacks %s", kind, m[0], name)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
				return 0, fmt.Errorf("pointing: <%s> at byte %d: %s=%q is not a percentage 0–100", kind, m[0], name, s)
			}
			return v, nil
		}
		var pts []Point
		if kind == "point" {
			x, err := coord("x")
			if err != nil {
				return Answer{}, err
			}
			y, err := coord("y")
			if err != nil {
				return Answer{}, err
			}
			pts = append(pts, Point{x, y})
		} else {
			n := 0
			for k := range kv {
				if len(k) > 1 && (k[0] == 'x' || k[0] == 'y') {
					if _, err := strconv.Atoi(k[1:]); err == nil {
						n++
					}
				}
			}
			if n == 0 || n%2 != 0 {
				return Answer{}, fmt.Errorf("pointing: <points> at byte %d has no complete x<i>/y<i> pairs", m[0])
			}
			for i := 1; i <= n/2; i++ {
				x, err := coord("x" + strconv.Itoa(i))
				if err != nil {
					return Answer{}, err
				}
				y, err := coord("y" + strconv.Itoa(i))
				if err != nil {
					return Answer{}, err
				}
				pts = append(pts, Point{x, y})
			}
		}
		ans.Points = append(ans.Points, pts...)
		if ans.Label == "" {
			ans.Label = kv["alt"]
			if ans.Label == "" {
				ans.Label = html.UnescapeString(strings.TrimSpace(text[m[6]:m[7]]))
			}
		}
	}
	if loc := openRe.FindStringIndex(text[covered:]); loc != nil {
		return Answer{}, fmt.Errorf("pointing: malformed point element near byte %d", covered+loc[0])
	}
	return ans, nil
}

// pct formats a percentage with one decimal, clamped to 0–100.
func pct(v float64) string {
	return strconv.FormatFloat(math.Round(min(max(v, 0), 100)*10)/10, 'f', 1, 64)
}

// Format writes points as Molmo does: one point as <point>, several as
// <points> (x1 y1 x2 y2 …), none as "There are none.". label is escaped.
func Format(points []Point, label string) string {
	esc := html.EscapeString(label)
	switch len(points) {
	case 0:
		return "There are none."
	case 1:
		return fmt.Sprintf(`<point x="%s" y="%s" alt="%s">%s</point>`, pct(points[0].X), pct(points[0].Y), esc, esc)
	}
	var b strings.Builder
	b.WriteString("<points")
	for i, p := range points {
		fmt.Fprintf(&b, ` x%d="%s" y%d="%s"`, i+1, pct(p.X), i+1, pct(p.Y))
	}
	fmt.Fprintf(&b, ` alt="%s">%s</points>`, esc, esc)
	return b.String()
}

// FormatCount writes a counting answer: the points, then the total
// ("Counting the <points …>label</points> shows a total of 3."), or "There
// are none." without points.
func FormatCount(points []Point, label string) string {
	if len(points) == 0 {
		return "There are none."
	}
	return fmt.Sprintf("Counting the %s shows a total of %d.", Format(points, label), len(points))
}

var totalRe = regexp.MustCompile(`(?i)a total of\s+(\d+)`)

var wordNums = map[string]int{"none": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
	"six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}

// ParseCount reads a counting answer: "a total of N" when present; else
// "There are none." (0); else the number of points; else the last number
// (digits or a word zero–ten) in the text. ok is false when none applies or
// the points are malformed.
func ParseCount(text string) (n int, ok bool) {
	if m := totalRe.FindAllStringSubmatch(text, -1); m != nil {
		v, err := strconv.Atoi(m[len(m)-1][1])
		return v, err == nil
	}
	ans, err := Parse(text)
	if err != nil {
		return 0, false
	}
	if len(ans.Points) > 0 {
		return len(ans.Points), true
	}
	if strings.Contains(strings.ToLower(text), "there are none") {
		return 0, true
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') })
	for i := len(words) - 1; i >= 0; i-- {
		if v, err := strconv.Atoi(words[i]); err == nil {
			return v, true
		}
		if v, found := wordNums[words[i]]; found {
			return v, true
		}
	}
	return 0, false
}
