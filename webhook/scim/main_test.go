package scim_test

import (
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is the real kube-apiserver + etcd shared by this package's tests; each test works in
// its own organization (and namespace).
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

var (
	sharedOnce   sync.Once
	sharedRoster *testenv.Roster
)

// newOrgClient returns a SCIM client for a fresh organization on the package's shared Roster
// manager (started on first use), once that manager's cache has seen the org's token.
func newOrgClient(t *testing.T) (*scimtest.Client, testenv.Org) {
	t.Helper()
	sharedOnce.Do(func() { sharedRoster = env.StartSharedRoster(t, nil) })
	org := env.NewOrg(t, "t")
	c := scimtest.New(sharedRoster.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	return c, org
}

// waitForToken waits until a SCIM server's cache has the org and its token Secret.
func waitForToken(t *testing.T, c *scimtest.Client) {
	t.Helper()
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status == http.StatusOK
	}, "token of %s not accepted", c.Base)
}
