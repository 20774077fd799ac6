//go:build unix

package photo_test

import "syscall"

// cpuTime returns the CPU time this process has used so far, user and
// system, in nanoseconds, or -1 if it cannot be read.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
