// Package proccpu reads the CPU time used by this process and by the processes it started (a
// test's or a benchmark's kube-apiserver and etcd), so that a measurement on a shared machine
// can report CPU, which other work does not stretch, beside wall time.
package proccpu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

// Self is the CPU time (user + system) this process has used so far.
func Self() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Children is the CPU time used so far by this process's children, summed per command name
// (e.g. "kube-apiserver", "etcd"), in steps of 10 ms.
func Children() map[string]time.Duration {
	out := map[string]time.Duration{}
	me := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime(14) stime(15); comm may hold spaces: split after ')'.
		s := string(raw)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != me {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		out[s[open+1:end]] += time.Duration(utime+stime) * time.Second / userHZ
	}
	return out
}
