package storageversion_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/storageversion"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env has Roster's admission webhook installed (failurePolicy Fail): the migration must pass it.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.RunWithWebhook(m, &env)) }

const group = "scim.roster.dev"

// admin is a cluster-admin who is not Roster: the webhook refuses it every change of what
// SCIM owns, and must let the migration's rewrites through.
func admin(t *testing.T) (client.Client, discovery.DiscoveryInterface) {
	t.Helper()
	au, err := env.Environment.AddUser(envtest.User{Name: "ops-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(au.Config())
	cfg.QPS, cfg.Burst = 1000, 2000
	scheme := app.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, discovery.NewDiscoveryClientForConfigOrDie(cfg)
}

// kinds are Roster's kinds, each with the namespace its test objects live in ("" for the
// cluster-scoped Organization).
var kinds = []string{"Organization", "OrgUser", "OrgTeam", "OrgTeamMemberSlice", "OrgTeamNameClaim",
	"TeamRoleBinding", "ClusterTeamRoleBinding"}

// clusterScoped kinds' test objects are named after the org.
var clusterScoped = map[string]bool{"Organization": true, "ClusterTeamRoleBinding": true}

// controlled kinds have a controller that may write their status or finalizers at any time
// during the test: those are left out of the comparison.
var controlled = map[string]bool{"Organization": true, "TeamRoleBinding": true, "ClusterTeamRoleBinding": true}

// snapshot reads every Roster object of org at version, keyed by kind/namespace/name, without
// the fields a rewrite may move (resourceVersion, managedFields) or that name the version,
// and without the Organization's status.
func snapshot(t *testing.T, c client.Client, org testenv.Org, version string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, kind := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
		var opts []client.ListOption
		if !clusterScoped[kind] {
			opts = append(opts, client.InNamespace(org.Namespace))
		}
		if err := c.List(t.Context(), list, opts...); err != nil {
			t.Fatalf("list %s at %s: %v", kind, version, err)
		}
		for _, o := range list.Items {
			if clusterScoped[kind] && o.GetName() != org.Name {
				continue
			}
			if o.GetAPIVersion() != group+"/"+version {
				t.Fatalf("%s %s read at %s has apiVersion %s", kind, o.GetName(), version, o.GetAPIVersion())
			}
			unstructured.RemoveNestedField(o.Object, "apiVersion")
			unstructured.RemoveNestedField(o.Object, "metadata", "resourceVersion")
			unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
			if controlled[kind] {
				// Their running controllers update status (and add finalizers) at any time.
				unstructured.RemoveNestedField(o.Object, "status")
				unstructured.RemoveNestedField(o.Object, "metadata", "finalizers")
				unstructured.RemoveNestedField(o.Object, "metadata", "generation")
			}
			out[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = o.Object
		}
	}
	return out
}

// storedVersions returns the apiVersion etcd holds for each Roster object of the org's
// namespace and the Organization, read from etcd itself (the apiserver converts on every read
// and cannot say).
func storedVersions(t *testing.T, org testenv.Org) map[string]string {
	t.Helper()
	etcd, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{env.Environment.ControlPlane.Etcd.URL.String()},
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	resp, err := etcd.Get(t.Context(), "/registry/"+group+"/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		key := string(kv.Key)
		if !strings.Contains(key, "/"+org.Namespace+"/") && !strings.HasSuffix(key, "/"+org.Name) {
			continue
		}
		var obj struct {
			APIVersion string `json:"apiVersion"`
		}
		if err := json.Unmarshal(kv.Value, &obj); err != nil {
			t.Fatalf("%s is not JSON: %v", key, err)
		}
		out[key] = obj.APIVersion
	}
	return out
}

// addVersion gives every Roster CRD a test-only v1alpha2 with v1alpha1's schema (served), and
// with storage true makes it the storage version: what the first API change will ship.
func addVersion(t *testing.T, c client.Client, storage bool) {
	t.Helper()
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(t.Context(), &crds); err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if crd.Spec.Group != group {
			continue
		}
		v1 := crd.Spec.Versions[0]
		if v1.Name != "v1alpha1" {
			t.Fatalf("%s: first version %s, want v1alpha1", crd.Name, v1.Name)
		}
		v2 := *v1.DeepCopy()
		v2.Name, v2.Storage = "v1alpha2", storage
		crd.Spec.Versions = []apiextensionsv1.CustomResourceDefinitionVersion{v1, v2}
		crd.Spec.Versions[0].Storage = !storage
		if err := c.Update(t.Context(), &crd); err != nil {
			t.Fatalf("%s: %v", crd.Name, err)
		}
	}
}

// scimView reads what the identity provider sees of each resource, meta.version included.
func scimView(t *testing.T, c *scimtest.Client, paths ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		r := c.Do(t, http.MethodGet, p, nil).Expect(t, http.StatusOK)
		out[p] = r.String("meta.version") + " " + string(r.Raw)
	}
	return out
}

// TestMigrateRewritesExistingObjects installs a second, identical-schema version, makes it the
// storage version while objects written by SCIM exist at the first, and runs the migration as
// a cluster-admin who is not Roster: every object is then stored at the new version, the CRDs
// list only it in status.storedVersions, every object reads back unchanged at both versions,
// and the identity provider sees the same resources at the same meta.version.
func TestMigrateRewritesExistingObjects(t *testing.T) {
	r := env.StartRoster(t, nil)
	org := env.NewOrg(t, "sv")
	sc := scimtest.New(r.BaseURL, org.Name, org.Token)
	eventually(t, func() bool { return sc.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Status == http.StatusOK })
	ada := sc.Do(t, http.MethodPost, "/Users", `{"userName":"ada@example.com","name":{"givenName":"Ada"}}`).Expect(t, http.StatusCreated).String("id")
	bob := sc.Do(t, http.MethodPost, "/Users", `{"userName":"bob@example.com","active":false}`).Expect(t, http.StatusCreated).String("id")
	eng := sc.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Eng","members":[{"value":%q},{"value":%q}]}`, ada, bob)).
		Expect(t, http.StatusCreated).String("id")
	paths := []string{"/Users/" + ada, "/Users/" + bob, "/Groups/" + eng}
	seen := scimView(t, sc, paths...)

	c, disc := admin(t)
	// A TeamRoleBinding and a ClusterTeamRoleBinding: the organization allows no role, so
	// they render nothing, but they are stored like the rest.
	trb := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{
		Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}}}
	trb.Name, trb.Namespace = "eng-view", org.Namespace
	ctrb := &rosterv1.ClusterTeamRoleBinding{Spec: rosterv1.ClusterTeamRoleBindingSpec{Organization: org.Name,
		Team: rosterv1.TeamRef{DisplayName: "Eng"}, RoleRef: rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}}}
	ctrb.Name = org.Name
	for _, obj := range []client.Object{trb, ctrb} {
		if err := c.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, c, org, "v1alpha1")
	for _, kind := range kinds {
		found := false
		for k := range before {
			found = found || strings.HasPrefix(k, kind+"/")
		}
		if !found {
			t.Fatalf("no %s to migrate: the test would prove nothing for it", kind)
		}
	}
	addVersion(t, c, false)
	addVersion(t, c, true)
	stored := storedVersions(t, org)
	if len(stored) < len(before) {
		t.Fatalf("etcd holds %d of the org's objects, the apiserver lists %d", len(stored), len(before))
	}
	for key, v := range stored {
		if v != group+"/v1alpha1" {
			t.Fatalf("%s stored at %s before the migration, want v1alpha1", key, v)
		}
	}

	var results []storageversion.Result
	if err := storageversion.Migrate(t.Context(), c, disc, group, func(r storageversion.Result) { results = append(results, r) }); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	if len(results) != len(kinds) {
		t.Errorf("results %+v, want one per CRD", results)
	}
	for key, v := range storedVersions(t, org) {
		if v != group+"/v1alpha2" {
			t.Errorf("%s stored at %s after the migration, want v1alpha2", key, v)
		}
	}
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(t.Context(), &crds); err != nil {
		t.Fatal(err)
	}
	for _, crd := range crds.Items {
		if crd.Spec.Group == group && !reflect.DeepEqual(crd.Status.StoredVersions, []string{"v1alpha2"}) {
			t.Errorf("%s: status.storedVersions = %v, want [v1alpha2]", crd.Name, crd.Status.StoredVersions)
		}
	}
	for _, version := range []string{"v1alpha1", "v1alpha2"} {
		after := snapshot(t, c, org, version)
		if len(after) != len(before) {
			t.Errorf("at %s: %d objects, %d before", version, len(after), len(before))
		}
		for key, obj := range before {
			if !reflect.DeepEqual(after[key], obj) {
				a, _ := json.Marshal(after[key])
				b, _ := json.Marshal(obj)
				t.Errorf("%s read at %s changed:\n%s\nwas\n%s", key, version, a, b)
			}
		}
	}
	if now := scimView(t, sc, paths...); !reflect.DeepEqual(now, seen) {
		t.Errorf("SCIM resources after the migration:\n%v\nbefore:\n%v", now, seen)
	}

	// Again: nothing left to do, nothing rewritten.
	results = nil
	if err := storageversion.Migrate(t.Context(), c, disc, group, func(r storageversion.Result) { results = append(results, r) }); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	for _, r := range results {
		if !r.Skipped || r.Objects != 0 {
			t.Errorf("second run: %+v, want skipped", r)
		}
	}
}

func TestMigrateRefusesAGroupWithoutCRDs(t *testing.T) {
	c, disc := admin(t)
	err := storageversion.Migrate(context.Background(), c, disc, "nothing.example.com", nil)
	if err == nil || !strings.Contains(err.Error(), `no CustomResourceDefinition of group "nothing.example.com"`) {
		t.Fatalf("Migrate: %v, want an error naming the group", err)
	}
}

// eventually polls cond (the manager's cache learning the org's token).
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
