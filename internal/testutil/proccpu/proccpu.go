// Package proccpu reads the CPU time used by this process and by the processes it started (a
// test's or a benchmark's kube-apiserver and etcd), so that a measurement on a shared machine
// can report CPU, which other work does not stretch, beside wall time.
package proccpu

import (
	"fmt"
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

// Of is the CPU time (user + system) process pid has used so far, in steps of 10 ms.
func Of(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, _, cpu, ok := parseStat(raw)
	if !ok {
		return 0, fmt.Errorf("/proc/%d/stat: not the fields of a process's stat", pid)
	}
	return cpu, nil
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
		if comm, ppid, cpu, ok := parseStat(raw); ok && ppid == me {
			out[comm] += cpu
		}
	}
	return out
}

// parseStat reads a /proc/<pid>/stat line: pid (comm) state ppid ... utime(14) stime(15).
// comm may hold spaces and parentheses: the fields are split after the last ')'.
func parseStat(raw []byte) (comm string, ppid int, cpu time.Duration, ok bool) {
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return s[open+1 : end], ppid, time.Duration(utime+stime) * time.Second / userHZ, true
}
