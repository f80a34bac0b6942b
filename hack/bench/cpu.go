package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
)

// cpuTimes is the CPU time used so far by the bench process (the in-process SCIM server
// included) and by each control-plane process (the bench's children, by command name).
type cpuTimes struct {
	self     time.Duration
	children map[string]time.Duration
}

// userHZ is the unit of utime/stime in /proc/<pid>/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const userHZ = 100

// readCPU samples the bench's CPU and its children's (kube-apiserver, etcd).
func readCPU() cpuTimes {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t := cpuTimes{
		self:     time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		children: map[string]time.Duration{},
	}
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
		t.children[s[open+1:end]] += time.Duration(utime+stime) * time.Second / userHZ
	}
	return t
}

// cpuSince formats the CPU used since before: the bench's own and each child's.
func cpuSince(before cpuTimes) string {
	now := readCPU()
	parts := []string{fmt.Sprintf("bench %s", (now.self - before.self).Round(10*time.Millisecond))}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		parts = append(parts, fmt.Sprintf("%s %s", name, (now.children[name]-before.children[name]).Round(10*time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}

// profileWindow starts a CPU profile into path ("" or a profile already running: nothing) and
// returns the function that stops it.
func profileWindow(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "bench: -put-cpuprofile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

// apiserverProfile starts a CPU profile of kube-apiserver for d (its /debug/pprof, as the
// bench's admin user) and returns a function that waits for it and writes it to path ("":
// nothing is profiled). It lets a run say where the apiserver's time goes during a write.
func (b *bench) apiserverProfile(ctx context.Context, path string, d time.Duration) func() {
	if path == "" {
		return func() {}
	}
	hc, err := rest.HTTPClientFor(b.rest)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(b.rest.Host, "/"), int(d.Seconds()))
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode == http.StatusOK {
			err = os.WriteFile(path, raw, 0o644)
		} else if err == nil {
			err = fmt.Errorf("%s: %.200s", resp.Status, raw)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: apiserver profile:", err)
		}
	}()
	return func() { <-done }
}
