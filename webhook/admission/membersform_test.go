package admission_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
)

// rawSlice is a member slice of team whose spec.members is any JSON value, as kubectl can
// send it: the CRD's schema leaves the field untyped (rosterv1.MemberList).
func rawSlice(team *rosterv1.OrgTeam, name string, members any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": rosterv1.GroupVersion.String(),
		"kind":       "OrgTeamMemberSlice",
		"metadata": map[string]any{
			"name": name, "namespace": team.Namespace,
			"labels": map[string]any{rosterv1.TeamLabel: team.Name, rosterv1.OrgLabel: team.Labels[rosterv1.OrgLabel]},
		},
		"spec": map[string]any{"team": team.Name, "members": members},
	}}
	return u
}

// TestSliceMembersForm: the webhook, not the schema, keeps spec.members a list of at most
// 2,000 strings, for anyone but Roster, on create and update, with a message naming the
// entry; a refused update leaves the slice as it was. A slice that got past the webhook
// anyway (here: written with Roster's own identity, which the webhook does not check) does
// not stop Roster's cache: it holds the slice with its string entries.
func TestSliceMembersForm(t *testing.T) {
	ctx := context.Background()
	org, _ := newOrg(t)
	editor := others(t)["rbac-editor"]
	team := newTeam(org.Name, "Oncall", rosterv1.ManagedByManual)
	if err := editor.Create(ctx, team); err != nil {
		t.Fatalf("creating a manual team: %v", err)
	}
	tooMany := make([]any, rosterv1.MaxMembersPerSlice+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("u-%d", i)
	}
	for _, tc := range []struct {
		name    string
		members any
		want    []string
	}{
		{"not-a-string", []any{"u-1", int64(7)}, []string{"spec.members[1]: Invalid value", "must be a string"}},
		{"an-object", []any{map[string]any{"value": "u-1"}}, []string{"spec.members[0]: Invalid value", "must be a string"}},
		{"not-a-list", "u-1", []string{"spec.members: Invalid value", "must be a list of strings"}},
		{"too-many", tooMany, []string{"spec.members: Too many: 2001: must have at most 2000 items"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := editor.Create(ctx, rawSlice(team, "bad-"+tc.name, tc.members))
			if !apierrors.IsInvalid(err) {
				t.Fatalf("creating a slice with members %.80v: want 422 Invalid, got %v", tc.members, err)
			}
			for _, want := range append([]string{fmt.Sprintf("admission webhook %q denied the request", sliceWebhook)}, tc.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q:\n%s", want, err)
				}
			}
		})
	}

	// An update to a bad form is refused as well, and changes nothing.
	good := membership.NewSlice(team, []string{"u-1", "u-2"})
	if err := editor.Create(ctx, good); err != nil {
		t.Fatalf("creating a well-formed slice: %v", err)
	}
	bad := rawSlice(team, good.Name, []any{"u-1", true})
	bad.SetResourceVersion(good.ResourceVersion)
	if err := editor.Update(ctx, bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.members[1]") {
		t.Errorf("updating a slice's members to [\"u-1\", true]: want 422 naming spec.members[1], got %v", err)
	}
	var stored rosterv1.OrgTeamMemberSlice
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(good), &stored); err != nil || !slices.Equal(stored.Spec.Members, []string{"u-1", "u-2"}) {
		t.Errorf("after the refused update the slice holds %v (%v), want [u-1 u-2]", stored.Spec.Members, err)
	}

	// Past the webhook: Roster's own identity is not checked. The apiserver stores what it
	// is sent, and the manager's cache still lists and holds the slice.
	mc := roster(t).Manager.GetClient()
	odd := rawSlice(team, "odd", []any{"u-3", map[string]any{"x": int64(1)}, "u-4", int64(5)})
	if err := mc.Create(ctx, odd); err != nil {
		t.Fatalf("writing an odd slice with Roster's identity: %v", err)
	}
	eventually(t, func() bool {
		var cached rosterv1.OrgTeamMemberSlice
		return mc.Get(ctx, client.ObjectKeyFromObject(odd), &cached) == nil && slices.Equal(cached.Spec.Members, []string{"u-3", "u-4"})
	})
	var later rosterv1.OrgTeamMemberSliceList
	if err := mc.List(ctx, &later, client.InNamespace(org.Name)); err != nil || len(later.Items) < 2 {
		t.Errorf("the cache lists %d slices of the org after the odd one (%v), want both", len(later.Items), err)
	}

	// A person's edit of such a slice that leaves its members alone passes (as the garbage
	// collector's or a finalizer's would); one that changes them must give the right form.
	edited := &unstructured.Unstructured{}
	edited.SetGroupVersionKind(odd.GroupVersionKind())
	if err := editor.Get(ctx, client.ObjectKeyFromObject(odd), edited); err != nil {
		t.Fatal(err)
	}
	edited.SetAnnotations(map[string]string{"example.com/note": "left alone"})
	if err := editor.Update(ctx, edited); err != nil {
		t.Errorf("annotating a slice whose odd members stay as they are: %v", err)
	}
	if err := unstructured.SetNestedSlice(edited.Object, []any{"u-3", int64(6)}, "spec", "members"); err != nil {
		t.Fatal(err)
	}
	if err := editor.Update(ctx, edited); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.members[1]") {
		t.Errorf("changing the odd members to another odd form: want 422 naming spec.members[1], got %v", err)
	}
}
