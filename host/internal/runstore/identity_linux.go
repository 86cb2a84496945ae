package runstore

import (
	"fmt"
	"os"
	"syscall"
)

// fileIdentity is device, inode, size, mode, modification and change time:
// any write, rename over, chmod or touch changes it (ctime cannot be set
// from user space), so content verified under one identity is still the
// same content while the identity holds.
func fileIdentity(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d:%d:%d:%o:%d.%d:%d.%d", st.Dev, st.Ino, st.Size, st.Mode,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), true
}

// linkCount is the number of hard links to the file.
func linkCount(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// syscallNoFollow refuses to open a symlink swapped in after the checks.
const syscallNoFollow = syscall.O_NOFOLLOW

// lockDir takes an exclusive, non-blocking flock on the directory dir: the
// returned file holds it until closed. ok is false when another process
// (or another open of it) holds it.
func lockDir(dir string) (f *os.File, ok bool, err error) {
	f, err = os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, false, nil
		}
		return nil, false, err
	}
	return f, true, nil
}
