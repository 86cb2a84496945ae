package ppm

import (
	"os"
	"strings"
)

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
