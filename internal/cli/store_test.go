package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/identitystore/sqlite"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

// TestManagerNeedsIdentityStore: `roster manager` refuses to start without a store URL (a
// SQLite file per pod would be a private database nobody else reads), and refuses a bad one
// before connecting to anything.
func TestManagerNeedsIdentityStore(t *testing.T) {
	t.Setenv(identityStoreEnv, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--identity-store or $ROSTER_IDENTITY_STORE is required"},
		{[]string{"--identity-store", "mysql://root:secret@db/roster"}, `unsupported store URL scheme "mysql"`},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"manager", "--kubeconfig", "/nonexistent"}, tc.args...), &stdout, &stderr)
		if code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("roster manager %v: exit %d, stderr %q; want 1 and %q", tc.args, code, stderr.String(), tc.want)
		}
		if strings.Contains(stderr.String(), "secret") {
			t.Errorf("the error shows the URL's password: %q", stderr.String())
		}
	}
}

// TestDevIdentityStore: `roster dev` writes users to sqlite://<data-dir>/roster.db and says so.
func TestDevIdentityStore(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	base, out, _ := startDev(t, "--data-dir", dir, "--token-file", tokenFile)
	dbPath := filepath.Join(dir, "roster.db")
	if !strings.Contains(out.String(), "Identity store:  sqlite://"+dbPath) {
		t.Errorf("the banner does not name the store:\n%s", out)
	}
	raw, _ := os.ReadFile(tokenFile)
	_, tok, _ := strings.Cut(strings.TrimSpace(string(raw)), " ")
	c := scimtest.New(base, "demo", tok)
	id := c.Do(t, http.MethodPost, "/Users", `{"userName":"grace@example.com"}`).Expect(t, http.StatusCreated).String("id")
	if !regexp.MustCompile(`^u-[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("unexpected id %q", id)
	}
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eventuallyOK(t, func() bool {
		u, err := st.ObserveUser(context.Background(), "demo", id)
		return err == nil && u.UserName == "grace@example.com" && u.Active
	})
}
