package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"k8s.io/client-go/rest"

	"github.com/rosterhq/roster/internal/testutil/proccpu"
)

// cpuTimes is the CPU time used so far by the bench process (the in-process SCIM server
// included) and by each control-plane process (the bench's children, by command name).
type cpuTimes struct {
	self     time.Duration
	children map[string]time.Duration
	// allocated and gcs are the bench process's heap allocations (bytes) and completed
	// garbage collections so far: what drives its collector's share of the CPU.
	allocated, gcs uint64
}

// readCPU samples the bench's CPU and its children's (kube-apiserver, etcd).
func readCPU() cpuTimes {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(m)
	return cpuTimes{self: proccpu.Self(), children: proccpu.Children(), allocated: m[0].Value.Uint64(), gcs: m[1].Value.Uint64()}
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

// cpuUse is the CPU the bench, kube-apiserver and etcd used over a window, and the bench's
// allocations and garbage collections in it.
type cpuUse struct {
	bench, apiserver, etcd time.Duration
	allocated, gcs         uint64
}

// usedSince is the CPU used since before, per process.
func usedSince(before cpuTimes) cpuUse {
	now := readCPU()
	return cpuUse{
		bench:     now.self - before.self,
		apiserver: now.children["kube-apiserver"] - before.children["kube-apiserver"],
		etcd:      now.children["etcd"] - before.children["etcd"],
		allocated: now.allocated - before.allocated,
		gcs:       now.gcs - before.gcs,
	}
}

// medianAllocated formats the bench's median allocations over us and its garbage
// collections in all of them.
func medianAllocated(us []cpuUse) string {
	sizes := make([]uint64, len(us))
	var gcs uint64
	for i, u := range us {
		sizes[i], gcs = u.allocated, gcs+u.gcs
	}
	return fmt.Sprintf("%.1f MiB allocated; %d collections in the %d rounds", float64(median(sizes))/(1<<20), gcs, len(us))
}

// medianUse formats each process's median CPU over us.
func medianUse(us []cpuUse) string {
	pick := func(f func(cpuUse) time.Duration) string {
		ds := make([]time.Duration, len(us))
		for i, u := range us {
			ds[i] = f(u)
		}
		return median(ds).Round(10 * time.Millisecond).String()
	}
	return fmt.Sprintf("bench %s, kube-apiserver %s, etcd %s",
		pick(func(u cpuUse) time.Duration { return u.bench }),
		pick(func(u cpuUse) time.Duration { return u.apiserver }),
		pick(func(u cpuUse) time.Duration { return u.etcd }))
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

// allocWindow writes the heap profile (allocations so far) to path+".before" and returns the
// function that writes it again to path ("": nothing): what was allocated in between is
// `go tool pprof -sample_index=alloc_space -diff_base path.before path`. Each write runs a
// garbage collection first (the profile is as of the last one), so the window starts with a
// fresh heap: its collections are not those of an unprofiled round.
func allocWindow(path string) func() {
	if path == "" {
		return func() {}
	}
	write := func(name string) {
		runtime.GC()
		f, err := os.Create(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -put-allocprofile:", err)
		}
	}
	write(path + ".before")
	return func() { write(path) }
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
