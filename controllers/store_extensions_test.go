package controllers_test

import (
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/identitystore"
	"github.com/rosterhq/roster/internal/testutil/pgtest"
)

const acmeURN = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"

// TestExtensionsInStoreSQLite and TestExtensionsInStorePostgres: custom extension values
// written through SCIM reach the store's extensions column, and follow a PATCH.
func TestExtensionsInStoreSQLite(t *testing.T)   { testExtensionsInStore(t, sqliteURL(t)) }
func TestExtensionsInStorePostgres(t *testing.T) { testExtensionsInStore(t, pgtest.Start(t).URL()) }

func testExtensionsInStore(t *testing.T, storeURL string) {
	f := newFixture(t, storeURL, nil)
	var org rosterv1.Organization
	if err := env.Client.Get(f.ctx, types.NamespacedName{Name: f.org.Name}, &org); err != nil {
		t.Fatal(err)
	}
	before := org.DeepCopy()
	org.Spec.ExtensionSchemas = []rosterv1.ExtensionSchema{{
		URN: acmeURN, ResourceType: rosterv1.ExtensionForUser,
		Attributes: []rosterv1.ExtensionAttribute{
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "costCenter", Type: "string"}},
			{ExtensionAttributeCommon: rosterv1.ExtensionAttributeCommon{Name: "level", Type: "integer"}},
		},
	}}
	// A merge patch: the controllers write the Organization's status meanwhile.
	if err := env.Client.Patch(f.ctx, &org, client.MergeFrom(before)); err != nil {
		t.Fatalf("declaring the extension: %v", err)
	}
	// Setup, not a step under test: the SCIM server serves the declaration once its cache
	// has the Organization.
	f.eventually(10*time.Second, func() (bool, string) {
		return f.scim.Do(t, http.MethodGet, "/Schemas/"+acmeURN, nil).Status == http.StatusOK, "the declaration is not served yet"
	})

	id := f.createUser("ext@example.com", map[string]any{acmeURN: map[string]any{"costCenter": "4711", "level": 3}})
	f.scim.Do(t, http.MethodPatch, "/Users/"+id, map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": acmeURN + ":level", "value": 4}},
	}).Expect(t, http.StatusOK)
	want := `{"` + acmeURN + `":{"costCenter":"4711","level":4}}`
	f.awaitUserRow(id, func(u identitystore.User) string {
		if u.Extensions != want {
			return "extensions column " + u.Extensions + ", want " + want
		}
		return ""
	})
}
