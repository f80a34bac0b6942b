package cli

import (
	"fmt"
	"math"
	"runtime/debug"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
)

// containerMemoryEnv names the variable config/manager fills from the container's
// limits.memory (downward API, in bytes).
const containerMemoryEnv = "ROSTER_CONTAINER_MEMORY_LIMIT"

// memoryLimitShare is the part of the container's memory the Go runtime may use before its
// collector works harder. The rest is for what the runtime does not count but the container
// is charged for (the mapped binary, the page cache of a SQLite identity store), so the
// collector reacts before the kernel's OOM killer does.
const memoryLimitShare = 0.9

// memoryLimit decides the soft memory limit of `roster manager` from its environment. Why:
// with the default GOGC=100 the heap grows to twice its live size before a collection, so a
// replica at rest used about twice the memory it needed (docs/benchmarks.md, "Memory"); a soft
// limit near the container's makes the collector run sooner only when memory is short.
//
// GOMEMLIMIT, when set, wins: the Go runtime has already applied it, and an operator who set
// it meant it (limit 0, source "GOMEMLIMIT"). Otherwise the container's limit in
// containerMemoryEnv (bytes, or a Kubernetes quantity such as 1Gi) gives memoryLimitShare of
// it. Neither set: limit 0, source "". A value that cannot be read is an error, so a typo in a
// hand-written manifest does not pass unnoticed.
func memoryLimit(getenv func(string) string) (limit int64, source string, err error) {
	if v := strings.TrimSpace(getenv("GOMEMLIMIT")); v != "" {
		return 0, "GOMEMLIMIT", nil
	}
	v := strings.TrimSpace(getenv(containerMemoryEnv))
	if v == "" {
		return 0, "", nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return 0, "", fmt.Errorf("$%s=%q: %w", containerMemoryEnv, v, err)
	}
	total, ok := q.AsInt64()
	if !ok || total <= 0 {
		return 0, "", fmt.Errorf("$%s=%q: want a positive number of bytes", containerMemoryEnv, v)
	}
	return int64(math.Floor(float64(total) * memoryLimitShare)), containerMemoryEnv, nil
}

// applyMemoryLimit sets the soft memory limit memoryLimit decides and logs it once.
func applyMemoryLimit(log logr.Logger, getenv func(string) string) error {
	limit, source, err := memoryLimit(getenv)
	switch {
	case err != nil:
		return err
	case source == "GOMEMLIMIT":
		// Reading the limit back with a negative argument leaves it unchanged.
		log.Info("soft memory limit", "bytes", debug.SetMemoryLimit(-1), "from", "GOMEMLIMIT")
	case limit > 0:
		debug.SetMemoryLimit(limit)
		log.Info("soft memory limit", "bytes", limit, "from", fmt.Sprintf("%.0f%% of $%s", memoryLimitShare*100, containerMemoryEnv))
	default:
		log.Info("no soft memory limit: neither $GOMEMLIMIT nor $" + containerMemoryEnv + " is set")
	}
	return nil
}
