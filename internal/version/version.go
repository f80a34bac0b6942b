// Package version holds what `roster version` prints: the release, the commit and the build
// date. The Makefile sets them with -ldflags -X (see LDFLAGS there); a plain `go build` falls
// back to what the Go toolchain recorded in the binary's build info.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time: go build -ldflags "-X github.com/rosterhq/roster/internal/version.Version=v0.1.0 ...".
// They are variables, not constants, because -X can only set string variables.
var (
	// Version is the release, `git describe --tags --always --dirty` (e.g. v0.1.0, v0.1.0-3-gabc1234-dirty).
	Version = ""
	// Commit is the full git commit hash the binary was built from.
	Commit = ""
	// Date is the commit's date in RFC 3339, UTC: a build of the same commit gets the same date,
	// so the image built from it is reproducible.
	Date = ""
)

// Unknown is what a field reads when neither the linker nor the build info set it.
const Unknown = "unknown"

// Info is the version of the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the linker-set values, each missing one filled from the build info: the main
// module's version ("devel" for a build inside the repository), vcs.revision and vcs.time
// (absent with -buildvcs=false), else Unknown.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		fillFromBuildInfo(&info, bi)
	}
	for _, f := range []*string{&info.Version, &info.Commit, &info.Date} {
		if *f == "" {
			*f = Unknown
		}
	}
	return info
}

func fillFromBuildInfo(info *Info, bi *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if info.Version == "" {
		switch v := bi.Main.Version; v {
		case "", "(devel)":
			// Built from a checkout (go build, go run): the toolchain knows no release.
			info.Version = "devel"
		default:
			// Built with `go install github.com/rosterhq/roster@v…`.
			info.Version = v
		}
	}
	if info.Commit == "" {
		info.Commit = settings["vcs.revision"]
		if info.Commit != "" && settings["vcs.modified"] == "true" {
			info.Commit += "-dirty"
		}
	}
	if info.Date == "" {
		info.Date = settings["vcs.time"]
	}
}

// String is the human form `roster version` prints, one field per line.
func (i Info) String() string {
	return fmt.Sprintf("version: %s\ncommit:  %s\ndate:    %s\ngo:      %s %s\n",
		i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
}
