package scim_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/token"
)

// impersonating returns a client that acts as user (authenticated, no other groups).
func impersonating(t *testing.T, user string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bindEdit gives user the rules of Kubernetes' built-in `edit` role in namespace. envtest
// runs no controller-manager, so the aggregated `edit` ClusterRole is empty here: the rules
// it aggregates live in system:aggregate-to-edit (and -view), which are bound instead. In a
// real cluster `edit` and `admin` hold these rules and more (admin: RBAC in the namespace).
func bindEdit(t *testing.T, namespace, user string) {
	t.Helper()
	for _, role := range []string{"system:aggregate-to-edit", "system:aggregate-to-view"} {
		rb := &rbacv1.RoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
		}
		rb.Namespace, rb.Name = namespace, user+"-"+role[len("system:"):]
		if err := env.Client.Create(context.Background(), rb); err != nil {
			t.Fatal(err)
		}
	}
}

// plantToken writes a Secret holding the hash of a token of the writer's choosing, the way
// Roster's own rotation would have written it there.
func plantToken(ctx context.Context, c client.Client, key client.ObjectKey, org string) (string, error) {
	plaintext, hash := token.Generate()
	s := &corev1.Secret{}
	s.Namespace, s.Name = key.Namespace, key.Name
	token.Apply(s, hash, 0, time.Now())
	s.Labels[rosterv1.OrgLabel] = org
	return plaintext, c.Create(ctx, s)
}

// TestNamespaceEditorCannotMintToken: a tenant with `edit` in the organization's namespace
// writes a token Secret there (where earlier versions kept it) and tries Roster's namespace;
// no token of theirs is accepted, and the org's own token keeps working.
func TestNamespaceEditorCannotMintToken(t *testing.T) {
	c, org := newOrgClient(t)
	ctx := context.Background()
	const editor = "tenant-editor@example.com"
	bindEdit(t, org.Namespace, editor)
	tenant := impersonating(t, editor)

	// Where earlier installs kept the token: the editor may write Secrets here, so Roster
	// no longer reads them from here.
	planted, err := plantToken(ctx, tenant, client.ObjectKey{Namespace: org.Namespace, Name: "scim-token"}, org.Name)
	if err != nil {
		t.Fatalf("the editor could not write a Secret in their own namespace (the test's premise): %v", err)
	}
	// Under the name Roster reads, but in the tenant's namespace.
	if _, err := plantToken(ctx, tenant, client.ObjectKey{Namespace: org.Namespace, Name: token.SecretName(org.Name)}, org.Name); err != nil {
		t.Fatal(err)
	}
	// Where Roster reads: refused by RBAC.
	_, err = plantToken(ctx, tenant, token.SecretKey(token.DefaultNamespace, org.Name+"-x"), org.Name)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("the editor wrote a Secret in Roster's namespace: err = %v, want Forbidden", err)
	}
	var theirs corev1.Secret
	if err := tenant.Get(ctx, token.SecretKey(token.DefaultNamespace, org.Name), &theirs); !apierrors.IsForbidden(err) {
		t.Fatalf("the editor read the org's token Secret: err = %v, want Forbidden", err)
	}

	// A refusal that only meant "not seen yet" would prove nothing: the manager's cache holds
	// no Secret outside Roster's namespace at all, so the planted ones are never seen.
	for _, name := range []string{"scim-token", token.SecretName(org.Name)} {
		var s corev1.Secret
		if err := sharedRoster.Manager.GetClient().Get(ctx, client.ObjectKey{Namespace: org.Namespace, Name: name}, &s); err == nil {
			t.Fatalf("the manager's cache holds the tenant's Secret %s/%s", org.Namespace, name)
		}
	}
	intruder := scimtest.New(sharedRoster.BaseURL, org.Name, planted)
	intruder.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
	intruder.Do(t, http.MethodPost, "/Users", oktaUser("planted@example.com")).ExpectError(t, http.StatusUnauthorized, "")
	c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
}

// TestTokenMigration: an install that kept the token Secret in the organization's namespace
// is moved to Roster's namespace by `roster token migrate` (token.Migrate) without a token
// change: first copied (the old Secret stays, for the old version still running), then moved.
func TestTokenMigration(t *testing.T) {
	_, org := newOrgClient(t)
	ctx := context.Background()
	// Make the org look like an old install: the token Secret in its namespace only.
	newKey := token.SecretKey(token.DefaultNamespace, org.Name)
	var current corev1.Secret
	if err := env.Client.Get(ctx, newKey, &current); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, &current); err != nil {
		t.Fatal(err)
	}
	var o rosterv1.Organization
	if err := env.Client.Get(ctx, client.ObjectKey{Name: org.Name}, &o); err != nil {
		t.Fatal(err)
	}
	oldKey := token.LegacySecretKey(&o)
	old := current.DeepCopy()
	old.ObjectMeta = current.ObjectMeta
	old.Namespace, old.Name, old.ResourceVersion, old.UID = oldKey.Namespace, oldKey.Name, "", ""
	old.CreationTimestamp = current.CreationTimestamp
	if err := env.Client.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	c := scimtest.New(sharedRoster.BaseURL, org.Name, org.Token)
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized
	}, "a token Secret in the organization's namespace still authenticates")

	moved, err := token.Migrate(ctx, env.Client, token.DefaultNamespace, true)
	if err != nil {
		t.Fatal(err)
	}
	mine := findMoved(moved, org.Name)
	if mine == nil || !mine.Copied || mine.Deleted {
		t.Fatalf("migrate --keep-old: %+v, want a copy that keeps the old Secret", mine)
	}
	eventually(t, 10*time.Second, func() bool {
		return c.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusOK
	}, "the same token is not accepted after the copy")
	if err := env.Client.Get(ctx, oldKey, &corev1.Secret{}); err != nil {
		t.Fatalf("--keep-old removed the old Secret: %v", err)
	}

	moved, err = token.Migrate(ctx, env.Client, token.DefaultNamespace, false)
	if err != nil {
		t.Fatal(err)
	}
	if mine = findMoved(moved, org.Name); mine == nil || mine.Copied || !mine.Deleted {
		t.Fatalf("second migrate: %+v, want the old Secret deleted and the copy kept", mine)
	}
	if err := env.Client.Get(ctx, oldKey, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old Secret after the move: err = %v, want NotFound", err)
	}
	var moved1 corev1.Secret
	if err := env.Client.Get(ctx, newKey, &moved1); err != nil {
		t.Fatal(err)
	}
	if string(moved1.Data[token.HashKey]) != string(current.Data[token.HashKey]) ||
		moved1.Annotations[token.RotatedAtAnnotation] != current.Annotations[token.RotatedAtAnnotation] {
		t.Fatal("the moved Secret does not hold the same token and rotation time")
	}
	c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
	// The old place is a tenant's: a token planted there later (newer, by its rotation time)
	// never replaces the one Roster holds. The migration reports it and touches neither.
	const editor = "migrate-editor@example.com"
	bindEdit(t, org.Namespace, editor)
	plantedKey := client.ObjectKey{Namespace: oldKey.Namespace, Name: oldKey.Name}
	planted, err := plantToken(ctx, impersonating(t, editor), plantedKey, org.Name)
	if err != nil {
		t.Fatal(err)
	}
	moved, err = token.Migrate(ctx, env.Client, token.DefaultNamespace, false)
	if err != nil {
		t.Fatal(err)
	}
	if mine = findMoved(moved, org.Name); mine == nil || !mine.Differs || mine.Copied || mine.Deleted {
		t.Fatalf("migrate after a planted Secret: %+v, want it reported as differing and nothing written", mine)
	}
	var after corev1.Secret
	if err := env.Client.Get(ctx, newKey, &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != moved1.ResourceVersion {
		t.Fatal("the migration rewrote Roster's token Secret from a tenant's Secret")
	}
	scimtest.New(sharedRoster.BaseURL, org.Name, planted).Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
	c.Do(t, http.MethodGet, "/Users", nil).Expect(t, http.StatusOK)
}

// TestTokenSecretOfAnotherOrg: a Secret in Roster's namespace authenticates only the
// organization its label names, even under another organization's Secret name.
func TestTokenSecretOfAnotherOrg(t *testing.T) {
	_, a := newOrgClient(t)
	_, b := newOrgClient(t)
	ctx := context.Background()
	keyB := token.SecretKey(token.DefaultNamespace, b.Name)
	var secretB corev1.Secret
	if err := env.Client.Get(ctx, keyB, &secretB); err != nil {
		t.Fatal(err)
	}
	// B's Secret now carries A's token hash but still B's label… then A's label.
	var secretA corev1.Secret
	if err := env.Client.Get(ctx, token.SecretKey(token.DefaultNamespace, a.Name), &secretA); err != nil {
		t.Fatal(err)
	}
	secretB.Data[token.HashKey] = secretA.Data[token.HashKey]
	secretB.Labels[rosterv1.OrgLabel] = a.Name
	if err := env.Client.Update(ctx, &secretB); err != nil {
		t.Fatal(err)
	}
	withAsToken := scimtest.New(sharedRoster.BaseURL, b.Name, a.Token)
	// Wait until the replica holds the rewritten Secret (B's own token stops working), then
	// A's token must not open B.
	own := scimtest.New(sharedRoster.BaseURL, b.Name, b.Token)
	eventually(t, 10*time.Second, func() bool {
		return own.Do(t, http.MethodGet, "/Users", nil).Status == http.StatusUnauthorized
	}, "the rewritten Secret never reached the SCIM server")
	withAsToken.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusUnauthorized, "")
}

func findMoved(moved []token.Moved, org string) *token.Moved {
	for i := range moved {
		if moved[i].Org == org {
			return &moved[i]
		}
	}
	return nil
}
