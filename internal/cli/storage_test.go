package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestStorageMigrateUsage: bad command lines fail before any connection, saying why.
func TestStorageMigrateUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-kubeconfig")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"storage"}, "roster storage migrate [--timeout DURATION]"},
		{[]string{"storage", "rewrite"}, "roster storage migrate [--timeout DURATION]"},
		{[]string{"storage", "migrate", "--timeout", "0"}, "--timeout must be positive"},
		{[]string{"storage", "migrate", "orgusers"}, `unexpected argument "orgusers"`},
		{[]string{"storage", "migrate", "--kubeconfig", missing}, "no-kubeconfig"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Run(context.Background(), tc.args, &stdout, &stderr); code != 1 || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q; want 1 and nothing", tc.args, code, stdout.String())
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: stderr %q, want it to contain %q", tc.args, stderr.String(), tc.want)
		}
	}
}
