package directory_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/app"
)

// TestCreateFinalizer: with an identity store the SCIM side creates users and teams with the
// store controllers' finalizer already on (those controllers would otherwise patch it in, one
// more write per object); without one it creates them with none — nothing would remove it —
// and a delete takes them out of the apiserver at once.
func TestCreateFinalizer(t *testing.T) {
	ctx := context.Background()
	yes := true
	for _, tc := range []struct {
		name  string
		store bool
		want  []string
	}{
		{"no identity store", false, nil},
		{"identity store", true, []string{controllers.Finalizer}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := env.NewOrgWith(t, "fin", func(o *v1alpha1.Organization) {
				o.Labels = map[string]string{"roster.dev/test": o.Name}
			})
			org := &v1alpha1.Organization{}
			org.Name, org.Spec.Namespace = o.Name, o.Namespace
			d := env.StartRoster(t, func(c *app.Config) {
				// Its controllers see this test's organization only.
				c.Organizations = "roster.dev/test=" + o.Name
				if tc.store {
					c.IdentityStore = "sqlite://" + filepath.Join(t.TempDir(), "roster.db")
				}
			}).Directory
			u, err := d.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: "fin@x.io", Active: &yes})
			if err != nil {
				t.Fatal(err)
			}
			team, err := d.CreateTeam(ctx, org, "Fin", "", []string{u.Name})
			if err != nil {
				t.Fatal(err)
			}
			// As the apiserver stored them at their create.
			for _, obj := range []client.Object{u, team} {
				if got := obj.GetFinalizers(); !slices.Equal(got, tc.want) {
					t.Errorf("%s created with finalizers %v, want %v", obj.GetName(), got, tc.want)
				}
			}
			if tc.store {
				return // the controllers' deletion is theirs to test (controllers/userwrites_test.go)
			}
			if err := d.DeleteUser(ctx, org.Spec.Namespace, u.Name, nil); err != nil {
				t.Fatal(err)
			}
			if err := d.DeleteTeam(ctx, org.Spec.Namespace, team.Name, nil); err != nil {
				t.Fatal(err)
			}
			for _, obj := range []client.Object{&v1alpha1.OrgUser{}, &v1alpha1.OrgTeam{}} {
				name := u.Name
				if _, ok := obj.(*v1alpha1.OrgTeam); ok {
					name = team.Name
				}
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: org.Spec.Namespace, Name: name}, obj); !apierrors.IsNotFound(err) {
					t.Errorf("%s right after its delete without a store: %v (finalizers %v), want NotFound", name, err, obj.GetFinalizers())
				}
			}
		})
	}
}
