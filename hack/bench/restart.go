package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// restart measures a cold start of the loaded org (the memory scenario's): the manager is
// stopped and started again with -restart-env added to its environment (e.g. GOGC=50), and
// the bench reports how long it takes to be ready and for its controllers to go idle, then the
// memory at rest as the memory scenario does.
func (b *bench) restart(ctx context.Context) error {
	lo, err := b.loadOrg(ctx)
	if err != nil {
		return err
	}
	m := b.manager
	label := fmt.Sprintf("restart %d users, %d memberships", lo.users, lo.memberships)
	if len(b.cfg.restartEnv) > 0 {
		label += " (" + strings.Join(b.cfg.restartEnv, " ") + ")"
	}
	m.stop()
	start := time.Now()
	if err := m.launch(ctx, b.cfg.restartEnv...); err != nil {
		return err
	}
	b.record(label, "ready (cache synced, index built) after", time.Since(start).Round(100*time.Millisecond).String(), "")
	// Every object is reconciled once after a start: wait until no controller has work left
	// three readings in a row.
	idle := 0
	err = waitFor(ctx, time.Hour, func() bool {
		time.Sleep(time.Second)
		if busy, err := m.controllersBusy(); err == nil && !busy {
			idle++
		} else {
			idle = 0
		}
		return idle >= 3
	})
	if err != nil {
		return err
	}
	b.record(label, "controllers idle after", time.Since(start).Round(time.Second).String(), "")
	rest, err := m.quiet(func() error { return sleep(ctx, b.cfg.settle) })
	if err != nil {
		return err
	}
	b.record(label, "RSS at rest", mib(rest.end.rss), "<= 450 MiB")
	b.record(label, "heap in use at rest", mib(rest.end.heapInuse), "")
	b.record(label, "manager at rest (no requests; the bench reads /proc only)", rest.restFigures(), "")
	b.record(label, "RSS peak of the restart (VmHWM)", mib(rest.end.hwm), "")
	if m.pprofURL != "" {
		if err := m.saveHeapProfile(b.cfg.heapProfile + ".restart"); err != nil {
			return err
		}
		if live, err := m.read(); err == nil {
			b.record(label, "live heap (right after a forced GC)", mib(live.heapAlloc), "")
		}
	}
	return nil
}

// controllersBusy reports whether any controller has queued or running work (the
// workqueue_depth and controller_runtime_active_workers gauges).
func (m *managerProc) controllersBusy() (bool, error) {
	resp, err := http.Get(m.metricsURL)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	busy := false
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "workqueue_depth{") && !strings.HasPrefix(line, "controller_runtime_active_workers{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil && v > 0 {
			busy = true
		}
	}
	return busy, sc.Err()
}
