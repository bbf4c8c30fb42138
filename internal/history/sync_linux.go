//go:build linux

package history

import (
	"os"
	"syscall"
)

// syncFS flushes the whole file system holding f with one syncfs(2): a
// flush may write to thousands of files (one per symbol and kind), and
// fsyncing each would cost thousands of disk flushes every interval. It
// reports false where the system call is unavailable.
func syncFS(f *os.File) (bool, error) {
	if sysSyncfs == 0 {
		return false, nil
	}
	for {
		_, _, errno := syscall.Syscall(sysSyncfs, f.Fd(), 0, 0)
		switch errno {
		case 0:
			return true, nil
		case syscall.EINTR:
			continue
		case syscall.ENOSYS:
			return false, nil
		}
		return true, &os.PathError{Op: "syncfs", Path: f.Name(), Err: errno}
	}
}
