package access

import (
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/utils/ptr"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

func user(n string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: n}
}

func users(from, to int) []rbacv1.Subject {
	var out []rbacv1.Subject
	for i := from; i < to; i++ {
		out = append(out, user(fmt.Sprintf("u%05d", i)))
	}
	return out
}

func sizes(l map[int][]rbacv1.Subject) map[int]int {
	out := map[int]int{}
	for i, c := range l {
		out[i] = len(c)
	}
	return out
}

func TestLayoutFillsThenKeepsPlaces(t *testing.T) {
	all := users(0, 2500)
	first := Layout(nil, all, 1000)
	if got := sizes(first); len(got) != 3 || got[0] != 1000 || got[1] != 1000 || got[2] != 500 {
		t.Fatalf("2,500 subjects in chunks of 1,000: %v, want [1000 1000 500]", got)
	}
	// Removing one subject changes its chunk only.
	removed := first[1][17]
	var rest []rbacv1.Subject
	for _, s := range all {
		if s != removed {
			rest = append(rest, s)
		}
	}
	second := Layout(first, rest, 1000)
	for i := range first {
		same := fmt.Sprint(first[i]) == fmt.Sprint(second[i])
		if (i == 1) == same {
			t.Errorf("chunk %d changed = %v; only chunk 1 (which held %s) should", i, !same, removed.Name)
		}
	}
	// Adding one goes to the first chunk with room (1, where the removal left a place).
	added := user("a-new")
	third := Layout(second, append(rest, added), 1000)
	if got := sizes(third); got[1] != 1000 || got[2] != 500 || got[0] != 1000 {
		t.Errorf("after one add: %v", got)
	}
	// Everything removed: no chunks.
	if got := Layout(third, nil, 1000); len(got) != 0 {
		t.Errorf("no subjects: %d chunks", len(got))
	}
}

func TestLayoutDropsDuplicatesAndStrangers(t *testing.T) {
	cur := map[int][]rbacv1.Subject{0: {user("a"), user("x")}, 3: {user("a"), user("b")}}
	got := Layout(cur, []rbacv1.Subject{user("a"), user("b"), user("c")}, 2)
	want := map[int][]rbacv1.Subject{0: {user("a"), user("c")}, 3: {user("b")}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Layout = %v, want %v", got, want)
	}
}

func TestChunkNames(t *testing.T) {
	base := BaseName(rosterv1.KindTeamRoleBinding, "acme", "eng-view", rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"})
	if other := BaseName(rosterv1.KindTeamRoleBinding, "globex", "eng-view", rosterv1.RoleRef{Kind: "ClusterRole", Name: "view"}); other == base {
		t.Errorf("two orgs' bindings of one name render the same name %s", base)
	}
	if other := BaseName(rosterv1.KindTeamRoleBinding, "acme", "eng-view", rosterv1.RoleRef{Kind: "ClusterRole", Name: "edit"}); other == base {
		t.Errorf("a new roleRef keeps the name %s (RoleBinding roleRefs are immutable)", base)
	}
	for _, i := range []int{0, 1, 12} {
		if got, ok := ChunkIndex(base, ChunkName(base, i)); !ok || got != i {
			t.Errorf("ChunkIndex(ChunkName(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, n := range []string{base + "-0", base + "-01", base + "-x", "other", base + "x"} {
		if _, ok := ChunkIndex(base, n); ok {
			t.Errorf("ChunkIndex(%q) accepted", n)
		}
	}
	long := BaseName(rosterv1.KindTeamRoleBinding, "acme", string(make([]byte, 300)), rosterv1.RoleRef{})
	if n := len(ChunkName(long, 99999)); n > 253 {
		t.Errorf("name of %d characters", n)
	}
}

func TestUserSubject(t *testing.T) {
	u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "ada@example.com",
		Emails: []rosterv1.MultiValued{{Value: "a2@example.com"}, {Value: "ada.l@example.com", Primary: ptr.To(true)}}}}
	for _, tc := range []struct {
		access *rosterv1.AccessSpec
		active *bool
		want   string
	}{
		{nil, nil, "ada@example.com"},
		{&rosterv1.AccessSpec{UserPrefix: "oidc:"}, ptr.To(true), "oidc:ada@example.com"},
		{&rosterv1.AccessSpec{UserPrefix: "oidc:", UserClaim: rosterv1.UserClaimEmail}, nil, "oidc:ada.l@example.com"},
		{nil, ptr.To(false), ""},
	} {
		u.Spec.Active = tc.active
		s, ok := UserSubject(tc.access, u)
		if ok != (tc.want != "") || s.Name != tc.want {
			t.Errorf("UserSubject(%+v, active %v) = %q %v, want %q", tc.access, tc.active, s.Name, ok, tc.want)
		}
	}
	if g := GroupSubject(&rosterv1.AccessSpec{GroupPrefix: "oidc:"}, "Eng"); g.Name != "oidc:Eng" || g.Kind != rbacv1.GroupKind {
		t.Errorf("GroupSubject = %+v", g)
	}
}
