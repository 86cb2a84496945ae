package pluginhost

import (
	"fmt"
	"os"
	"syscall"
)

// fileIdentity is device, inode, size, modification and change time: any
// write, rename over, chmod or touch changes it (ctime cannot be set from
// user space).
func fileIdentity(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d:%d:%d:%d.%d:%d.%d", st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), true
}
