package cli

import (
	"runtime/debug"
	"testing"

	"github.com/go-logr/logr"
)

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		wantLimit  int64
		wantSource string
		wantErr    bool
	}{
		{name: "nothing set", env: nil},
		{name: "container limit in bytes, as the downward API gives it",
			env:       map[string]string{containerMemoryEnv: "1073741824"},
			wantLimit: 966367641, wantSource: containerMemoryEnv}, // floor(0.9 GiB)
		{name: "container limit as a quantity",
			env:       map[string]string{containerMemoryEnv: "512Mi"},
			wantLimit: 483183820, wantSource: containerMemoryEnv},
		{name: "GOMEMLIMIT wins over the container limit",
			env:        map[string]string{"GOMEMLIMIT": "700MiB", containerMemoryEnv: "1073741824"},
			wantSource: "GOMEMLIMIT"},
		{name: "GOMEMLIMIT alone", env: map[string]string{"GOMEMLIMIT": "off"}, wantSource: "GOMEMLIMIT"},
		{name: "blank GOMEMLIMIT is not set",
			env:       map[string]string{"GOMEMLIMIT": " ", containerMemoryEnv: "1000"},
			wantLimit: 900, wantSource: containerMemoryEnv},
		{name: "garbage", env: map[string]string{containerMemoryEnv: "lots"}, wantErr: true},
		{name: "zero", env: map[string]string{containerMemoryEnv: "0"}, wantErr: true},
		{name: "negative", env: map[string]string{containerMemoryEnv: "-1Gi"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			limit, source, err := memoryLimit(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if limit != tc.wantLimit || source != tc.wantSource {
				t.Errorf("memoryLimit = %d from %q, want %d from %q", limit, source, tc.wantLimit, tc.wantSource)
			}
		})
	}
}

// TestApplyMemoryLimit checks that the decided limit reaches the Go runtime, and that an
// explicit GOMEMLIMIT is left as the runtime read it.
func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })

	env := map[string]string{containerMemoryEnv: "2000000000"}
	if err := applyMemoryLimit(logr.Discard(), func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1800000000 {
		t.Errorf("soft memory limit = %d, want 1800000000 (90%% of the container's)", got)
	}

	debug.SetMemoryLimit(123 << 20) // as if the runtime had read GOMEMLIMIT=123MiB
	env["GOMEMLIMIT"] = "123MiB"
	if err := applyMemoryLimit(logr.Discard(), func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 123<<20 {
		t.Errorf("soft memory limit = %d, want GOMEMLIMIT's %d untouched", got, 123<<20)
	}

	env = map[string]string{containerMemoryEnv: "a lot"}
	if err := applyMemoryLimit(logr.Discard(), func(k string) string { return env[k] }); err == nil {
		t.Error("an unreadable container limit was accepted")
	}
}
