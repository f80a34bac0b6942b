package version

import (
	"runtime/debug"
	"testing"
)

// TestFillFromBuildInfo checks the fallbacks a plain `go build` or `go install` gets.
func TestFillFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(append([]debug.BuildSetting{}, vcs[:2]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	tests := []struct {
		name  string
		start Info
		bi    debug.BuildInfo
		want  Info
	}{
		{
			name: "go build in a checkout",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want: Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-01-02T03:04:05Z"},
		},
		{
			name: "uncommitted changes",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty},
			want: Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567-dirty", Date: "2026-01-02T03:04:05Z"},
		},
		{
			name: "go install module@version, no VCS stamp",
			bi:   debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}},
			want: Info{Version: "v0.2.0"},
		},
		{
			name:  "linker-set values win",
			start: Info{Version: "v0.1.0", Commit: "abc", Date: "2025-12-31T00:00:00Z"},
			bi:    debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want:  Info{Version: "v0.1.0", Commit: "abc", Date: "2025-12-31T00:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.start
			fillFromBuildInfo(&got, &tt.bi)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestGetNeverEmpty: a test binary has no linker-set values; every field still says something.
func TestGetNeverEmpty(t *testing.T) {
	i := Get()
	for name, v := range map[string]string{"version": i.Version, "commit": i.Commit, "date": i.Date, "go": i.GoVersion, "platform": i.Platform} {
		if v == "" {
			t.Errorf("%s is empty", name)
		}
	}
}
