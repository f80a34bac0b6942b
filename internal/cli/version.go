package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/rosterhq/roster/internal/version"
)

// runVersion implements `roster version [--json]`: the release, commit and build date the
// build set (internal/version), with the Go version and platform.
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print a JSON object instead of lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (usage: roster version [--json])", fs.Arg(0))
	}
	info := version.Get()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := fmt.Fprint(stdout, info.String())
	return err
}
