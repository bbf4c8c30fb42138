//go:build unix

package bars

import "syscall"

// cpuTime is the process's user and system CPU time in ns, GC workers
// included: on a loaded machine a benchmark's wall time also counts the
// time it waited for a core, its CPU time does not.
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
