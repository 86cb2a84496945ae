package sdk

import (
	"mime"
	"reflect"
	"strings"
)

// acceptsTag reads a field's accepts:"a/b,c/*" tag.
func acceptsTag(f reflect.StructField) []string {
	var out []string
	for _, s := range strings.Split(f.Tag.Get("accepts"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// MediaTypeAccepted reports whether an artifact of media type mt may be
// given to an attribute accepting the listed types. Parameters (";
// charset=…") are ignored; "type/*" matches any subtype and "*/*"
// anything. An empty list, or an unknown (empty) mt, accepts.
func MediaTypeAccepted(mt string, accepts []string) bool {
	if len(accepts) == 0 || mt == "" {
		return true
	}
	base := func(s string) string {
		if m, _, err := mime.ParseMediaType(s); err == nil {
			return m
		}
		return strings.ToLower(strings.TrimSpace(s))
	}
	m := base(mt)
	for _, a := range accepts {
		a = base(a)
		switch {
		case a == "*/*" || a == "*", a == m:
			return true
		case strings.HasSuffix(a, "/*") && strings.HasPrefix(m, strings.TrimSuffix(a, "*")):
			return true
		}
	}
	return false
}
