package getplugins

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Untrusted says why a plugin binary must not be executed, or returns nil.
// Discovery launches candidates to read their versions and init locks one:
// a binary that someone else could have put there or changed runs as the
// user. Refused: a file or the directory holding it (for a symlink, both
// the link's and the target's) that is writable by group or others, or
// owned by another user than the current one or root.
func Untrusted(path string) error {
	check := func(p, what string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("refused: %s %s is writable by %s (mode %v); anyone there could replace the plugin (chmod go-w it)", what, p, writers(fi.Mode()), fi.Mode().Perm())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if uid := uint32(os.Getuid()); st.Uid != uid && st.Uid != 0 {
				return fmt.Errorf("refused: %s %s belongs to another user (uid %d)", what, p, st.Uid)
			}
		}
		return nil
	}
	paths := []string{path}
	if target, err := filepath.EvalSymlinks(path); err == nil && target != path {
		paths = append(paths, target)
	}
	for _, p := range paths {
		if err := check(p, "the binary"); err != nil {
			return err
		}
		if err := check(filepath.Dir(p), "the directory"); err != nil {
			return err
		}
	}
	return nil
}

func writers(m os.FileMode) string {
	switch {
	case m&0o002 != 0 && m&0o020 != 0:
		return "its group and everyone"
	case m&0o002 != 0:
		return "everyone"
	}
	return "its group"
}
