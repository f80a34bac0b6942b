package cli

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
)

var tokenLine = regexp.MustCompile(`Token \(demo\):\s+(roster_\S+)`)

// TestDevAdmission: `roster dev` serves the same admission webhook as a cluster, so its
// kubeconfig — a system:masters user, i.e. cluster-admin — cannot delete or change what the
// identity provider owns, also after a restart on the same state (the webhook configuration
// in etcd is re-pointed at the new server); the SCIM server's own writes still pass.
func TestDevAdmission(t *testing.T) {
	dir := t.TempDir()
	base, out, stop := startDev(t, "--data-dir", dir)
	m := tokenLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no token in the banner:\n%s", out)
	}
	c := scimtest.New(base, "demo", m[1])
	id := c.Do(t, http.MethodPost, "/Users", `{"userName":"kim@example.com"}`).Expect(t, http.StatusCreated).String("id")

	// The kubeconfig is rewritten on every start (the apiserver's port changes).
	denied := func() {
		t.Helper()
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
		if err != nil {
			t.Fatal(err)
		}
		kube, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
		if err != nil {
			t.Fatal(err)
		}
		u := &rosterv1.OrgUser{}
		u.Name, u.Namespace = id, "demo"
		err = kube.Delete(context.Background(), u)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `user "kim@example.com" is provisioned by SCIM from the identity provider of organization "demo"`) {
			t.Fatalf("deleting an OrgUser with the dev kubeconfig: %v", err)
		}
	}
	denied()
	stop()

	base, _, _ = startDev(t, "--data-dir", dir)
	denied()
	c = scimtest.New(base, "demo", m[1])
	c.Do(t, http.MethodPatch, "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`).Expect(t, http.StatusOK)
}
