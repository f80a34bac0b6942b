package shard_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/internal/token"
)

// TestSharedNamespaceAcrossShards: two organizations of two shards name one namespace. Each
// shard's cache holds only its own Organization, yet both refuse to serve (503) and both
// Organizations report NamespaceShared, as an unsharded install does: otherwise each identity
// provider would read and write the other's users.
func TestSharedNamespaceAcrossShards(t *testing.T) {
	ctx := context.Background()
	orgA := env.NewOrgWith(t, "sha", labelled("t5a"))
	other := &rosterv1.Organization{Spec: rosterv1.OrganizationSpec{Namespace: orgA.Namespace}}
	other.Name, other.Labels = orgA.Name+"-twin", map[string]string{shardLabel: "t5b"}
	if err := env.Client.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	tok, err := token.Rotate(ctx, env.Client, token.DefaultNamespace, other.Name, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := startShard(t, selector("t5a"), "sh-a-0", "")
	b := startShard(t, selector("t5b"), "sh-b-0", "")
	for _, tc := range []struct {
		srv      *replica
		org, tok string
	}{{a, orgA.Name, orgA.Token}, {b, other.Name, tok}} {
		got := scimtest.New(tc.srv.baseURL, tc.org, tc.tok).Do(t, http.MethodGet, "/Users", nil)
		if got.Status != http.StatusServiceUnavailable {
			t.Errorf("GET /Users of %s, whose namespace another shard's organization names: %d %s, want 503", tc.org, got.Status, got.Raw)
		}
	}
	for _, name := range []string{orgA.Name, other.Name} {
		testenv.Eventually(t, 30*time.Second, func() (bool, string) {
			var org rosterv1.Organization
			if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &org); err != nil {
				return false, err.Error()
			}
			c := meta.FindStatusCondition(org.Status.Conditions, rosterv1.ConditionReady)
			return c != nil && c.Reason == "NamespaceShared", fmt.Sprintf("organization %s: Ready %+v, want NamespaceShared", name, c)
		})
	}
}
