package admission_test

import (
	"context"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is a real kube-apiserver + etcd with Roster's ValidatingWebhookConfiguration installed
// exactly as config/webhook/manifests.yaml has it (failurePolicy Fail), pointed at the shared
// Roster's webhook server.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunWithWebhook(m, &env)) }

var (
	sharedOnce   sync.Once
	sharedRoster *testenv.Roster
	// webhookLogs has the shared Roster's webhook lines at the default level (Info).
	webhookLogs, webhookLog = testenv.NewLogRecorder(0)
)

// roster returns the package's Roster manager, started on first use. Its client, its SCIM
// server and its webhook all run as the control plane's admin user: that is "Roster's own
// identity" here, as a ServiceAccount is in a cluster. Break-glass is open to
// breakGlassGroup.
func roster(t *testing.T) *testenv.Roster {
	t.Helper()
	sharedOnce.Do(func() {
		sharedRoster = env.StartSharedRoster(t, func(c *app.Config) {
			c.Webhook.Log = &webhookLog
			c.Webhook.BreakGlassGroup = breakGlassGroup
		})
	})
	return sharedRoster
}

// breakGlassGroup is the shared Roster's --break-glass-group.
const breakGlassGroup = "roster:break-glass"

// newOrg creates an organization whose token the shared Roster's SCIM server accepts.
func newOrg(t *testing.T) (testenv.Org, *scimtest.Client) {
	t.Helper()
	r := roster(t)
	org := env.NewOrg(t, "adm")
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	eventually(t, func() bool { return c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status == http.StatusOK })
	return org, c
}

var (
	usersOnce sync.Once
	admin     client.Client // a cluster-admin (system:masters)
	editor    client.Client // a user RBAC allows to do anything with Roster's kinds
	usersErr  error
)

// others returns clients for writers that are not Roster: a cluster-admin and a plain user
// with an RBAC grant on scim.roster.dev.
func others(t *testing.T) map[string]client.Client {
	t.Helper()
	usersOnce.Do(func() {
		admin, usersErr = userClient(envtest.User{Name: "alice-admin", Groups: []string{"system:masters"}})
		if usersErr != nil {
			return
		}
		editor, usersErr = userClient(envtest.User{Name: "bob-editor"})
		if usersErr != nil {
			return
		}
		ctx := context.Background()
		role := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{"scim.roster.dev"}, Resources: []string{"*"}, Verbs: []string{"*"}}}}
		role.Name = "roster-everything-test"
		if usersErr = env.Client.Create(ctx, role); usersErr != nil {
			return
		}
		binding := &rbacv1.ClusterRoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "bob-editor"}},
		}
		binding.Name = role.Name
		usersErr = env.Client.Create(ctx, binding)
	})
	if usersErr != nil {
		t.Fatalf("creating test users: %v", usersErr)
	}
	return map[string]client.Client{"cluster-admin": admin, "rbac-editor": editor}
}

// userClient authenticates as a new user of the control plane.
func userClient(u envtest.User) (client.Client, error) {
	au, err := env.Environment.AddUser(u, nil)
	if err != nil {
		return nil, err
	}
	return newClient(au.Config())
}

func newClient(cfg *rest.Config) (client.Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1000, 2000
	return client.New(cfg, client.Options{Scheme: app.NewScheme()})
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
