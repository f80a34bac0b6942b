package membership_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// TestMetadataSliceWriter: slices written with metadata-only answers hold what was sent, the
// store's Last is the slice at the resourceVersion the apiserver has, and a write at a stale
// resourceVersion is a conflict (so a commit retries it) and changes nothing.
func TestMetadataSliceWriter(t *testing.T) {
	ctx := context.Background()
	org := env.NewOrg(t, "metawrite")
	team := createSCIMTeam(t, org.Namespace, "g-eng")
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	w, err := membership.NewMetadataSliceWriter(env.Config, hc)
	if err != nil {
		t.Fatal(err)
	}
	s := &membership.Store{Cache: env.Client, API: env.Client, Writer: env.Client, SliceWrites: w, Capacity: 100}
	ids := make([]string, 250)
	for i := range ids {
		ids[i] = fmt.Sprintf("u-%03d", i)
	}
	res, err := s.Change(ctx, team, func(cur membership.Set) (membership.Set, []string) {
		return membership.Desired(cur, []patch.MemberOp{{Kind: patch.MemberReplace, Values: ids}}, func(string) bool { return true })
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var list rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(ctx, &list, client.InNamespace(org.Namespace)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 3 {
		t.Fatalf("%d slices, want 3 of at most 100", len(list.Items))
	}
	if got := membership.Members(list.Items).Sorted(); !slices.Equal(got, ids) {
		t.Fatalf("the apiserver holds %d members, want the 250 sent", len(got))
	}
	last, ok := res.Last.(*rosterv1.OrgTeamMemberSlice)
	if !ok {
		t.Fatalf("Last is %T, want the slice", res.Last)
	}
	i := slices.IndexFunc(list.Items, func(sl rosterv1.OrgTeamMemberSlice) bool { return sl.Name == last.Name })
	if i < 0 || list.Items[i].ResourceVersion != last.ResourceVersion || list.Items[i].UID != last.UID {
		t.Fatalf("Last %s@%s is not a slice as the apiserver has it", last.Name, last.ResourceVersion)
	}
	if !slices.Equal(last.Spec.Members, list.Items[i].Spec.Members) || last.Spec.Team != team.Name {
		t.Fatalf("Last's spec differs from the stored slice's")
	}

	// An update at a stale resourceVersion.
	stale := list.Items[0].DeepCopy()
	fresh := list.Items[0].DeepCopy()
	fresh.Spec.Members = fresh.Spec.Members[1:]
	if err := w.Update(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if fresh.ResourceVersion == stale.ResourceVersion {
		t.Fatalf("the update kept resourceVersion %s", fresh.ResourceVersion)
	}
	stale.Spec.Members = nil
	if err := w.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Fatalf("update at a stale resourceVersion: %v, want a conflict", err)
	}
	// A refusal keeps the apiserver's reason and message.
	lift := env.DenySliceWrites(t, org.Namespace, "u-poison")
	defer lift()
	denied := membership.NewSlice(team, []string{"u-poison"})
	err = w.Create(ctx, denied)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "test: this slice write fails") {
		t.Fatalf("a denied create: %v, want the policy's Forbidden", err)
	}
	var now rosterv1.OrgTeamMemberSlice
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(fresh), &now); err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != fresh.ResourceVersion || len(now.Spec.Members) != len(fresh.Spec.Members) {
		t.Fatalf("the refused write changed the slice: %d members at %s", len(now.Spec.Members), now.ResourceVersion)
	}
	// And the refused create made nothing: the namespace holds the slices it held.
	var after rosterv1.OrgTeamMemberSliceList
	if err := env.Client.List(ctx, &after, client.InNamespace(org.Namespace)); err != nil {
		t.Fatal(err)
	}
	if len(after.Items) != len(list.Items) {
		t.Fatalf("after the refused create the namespace holds %d slices, had %d", len(after.Items), len(list.Items))
	}
	for _, sl := range after.Items {
		if slices.Contains(sl.Spec.Members, "u-poison") {
			t.Fatalf("slice %s lists the refused create's member", sl.Name)
		}
	}
}
