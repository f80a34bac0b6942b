package admission

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

const (
	rosterUser = "system:serviceaccount:roster-system:roster-controller-manager"
	admin      = "kubernetes-admin"
)

func user() *rosterv1.OrgUser {
	u := &rosterv1.OrgUser{Spec: rosterv1.OrgUserSpec{UserName: "ada@example.com"}}
	u.Name, u.Namespace = "u-ada", "acme"
	u.Labels = map[string]string{rosterv1.OrgLabel: "acme"}
	return u
}

func team(name, managedBy string) *rosterv1.OrgTeam {
	t := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: strings.ToUpper(name[:1]) + name[1:], ManagedBy: managedBy}}
	t.Name, t.Namespace = name, "acme"
	t.Labels = map[string]string{rosterv1.OrgLabel: "acme"}
	return t
}

func slice(teamName string, members ...string) *rosterv1.OrgTeamMemberSlice {
	s := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: teamName, Members: members}}
	s.Name, s.Namespace = teamName+"-abcde", "acme"
	s.Labels = map[string]string{rosterv1.OrgLabel: "acme", rosterv1.TeamLabel: teamName}
	return s
}

func claim(displayName, teamName string) *rosterv1.OrgTeamNameClaim {
	c := &rosterv1.OrgTeamNameClaim{Spec: rosterv1.OrgTeamNameClaimSpec{Team: teamName, DisplayName: displayName}}
	c.Name, c.Namespace = "team-name-0123456789abcdef0123456789abcdef", "acme"
	c.Labels = map[string]string{rosterv1.OrgLabel: "acme", rosterv1.TeamLabel: teamName}
	return c
}

// with returns a deep copy of o changed by f.
func with[T client.Object](o T, f func(T)) T {
	c := o.DeepCopyObject().(T)
	f(c)
	return c
}

func terminating[T client.Object](o T) T {
	return with(o, func(c T) {
		now := metav1.Now()
		c.SetDeletionTimestamp(&now)
	})
}

func testGuard() *guard {
	teams := map[string]*rosterv1.OrgTeam{"eng": team("eng", rosterv1.ManagedBySCIM), "ops": team("ops", rosterv1.ManagedByManual)}
	return &guard{
		scim: sets.New(rosterUser),
		teams: func(_ context.Context, ns, name string) (*rosterv1.OrgTeam, error) {
			if name == "broken" {
				return nil, errors.New("apiserver unavailable")
			}
			if t, ok := teams[name]; ok && ns == "acme" {
				return t, nil
			}
			return nil, nil
		},
		log: logr.Discard(),
	}
}

func TestDecisions(t *testing.T) {
	const (
		create = admissionv1.Create
		update = admissionv1.Update
		del    = admissionv1.Delete
	)
	eng, ops := team("eng", rosterv1.ManagedBySCIM), team("ops", rosterv1.ManagedByManual)
	engSlice, opsSlice := slice("eng", "u-1"), slice("ops", "u-1")
	withFinalizer := func(o client.Object) { o.SetFinalizers([]string{"scim.roster.dev/store", "other"}) }
	cases := []struct {
		name     string
		kind     string // user, team, slice, claim
		op       admissionv1.Operation
		user     string
		old, new client.Object
		// want: "" allowed, else the denial's HTTP code and field path.
		wantCode  int32
		wantField string
		wantMsg   string
	}{
		// Roster's own identity writes everything.
		{name: "roster creates a user", kind: "user", op: create, user: rosterUser, new: user()},
		{name: "roster updates a user", kind: "user", op: update, user: rosterUser, old: user(), new: with(user(), func(u *rosterv1.OrgUser) { u.Spec.Active = new(bool) })},
		{name: "roster deletes a user", kind: "user", op: del, user: rosterUser, old: user()},
		{name: "roster creates a SCIM team", kind: "team", op: create, user: rosterUser, new: eng},
		{name: "roster renames a SCIM team", kind: "team", op: update, user: rosterUser, old: eng, new: with(eng, func(t *rosterv1.OrgTeam) { t.Spec.DisplayName = "Engineering" })},
		{name: "roster changes members", kind: "slice", op: update, user: rosterUser, old: engSlice, new: slice("eng", "u-1", "u-2")},
		{name: "roster writes a slice of a team not in its cache yet", kind: "slice", op: create, user: rosterUser, new: slice("new-team", "u-1")},

		// Everyone else is refused what SCIM owns, with the field that was touched.
		{name: "admin creates a user", kind: "user", op: create, user: admin, new: user(), wantCode: 403, wantField: "spec.userName", wantMsg: `identity provider of organization "acme"`},
		{name: "admin changes a user", kind: "user", op: update, user: admin, old: user(), new: with(user(), func(u *rosterv1.OrgUser) { u.Spec.DisplayName = "Ada" }), wantCode: 403, wantField: "spec.displayName", wantMsg: `user "ada@example.com" is provisioned by SCIM`},
		{name: "admin deletes a user", kind: "user", op: del, user: admin, old: user(), wantCode: 403, wantField: "spec.userName", wantMsg: "unassign or deactivate"},
		{name: "admin labels a user", kind: "user", op: update, user: admin, old: user(), new: with(user(), func(u *rosterv1.OrgUser) { u.Labels["team"] = "x" }), wantCode: 403, wantField: "metadata.labels[team]"},
		{name: "admin creates a SCIM team", kind: "team", op: create, user: admin, new: eng, wantCode: 403, wantField: "spec.managedBy", wantMsg: "managedBy: manual"},
		{name: "admin renames a SCIM team", kind: "team", op: update, user: admin, old: eng, new: with(eng, func(t *rosterv1.OrgTeam) { t.Spec.DisplayName = "Engineering" }), wantCode: 403, wantField: "spec.displayName", wantMsg: `team "Eng" is provisioned by SCIM`},
		{name: "admin deletes a SCIM team", kind: "team", op: del, user: admin, old: eng, wantCode: 403, wantField: "spec.managedBy", wantMsg: "Okta: Push Groups"},
		{name: "admin adds a member", kind: "slice", op: update, user: admin, old: engSlice, new: slice("eng", "u-1", "u-2"), wantCode: 403, wantField: "spec.members", wantMsg: `the members of team "Eng" are provisioned by SCIM from the identity provider of organization "acme"`},
		{name: "admin creates a slice of a SCIM team", kind: "slice", op: create, user: admin, new: slice("eng", "u-9"), wantCode: 403, wantField: "spec.members"},
		{name: "admin deletes a slice of a SCIM team", kind: "slice", op: del, user: admin, old: engSlice, wantCode: 403, wantField: "spec.team"},
		{name: "a slice cannot join a SCIM team through its label", kind: "slice", op: create, user: admin, new: with(opsSlice, func(s *rosterv1.OrgTeamMemberSlice) { s.Labels[rosterv1.TeamLabel] = "eng" }), wantCode: 422, wantField: "metadata.labels[scim.roster.dev/team]"},
		{name: "a slice cannot leave a SCIM team through its label", kind: "slice", op: update, user: admin, old: with(opsSlice, func(s *rosterv1.OrgTeamMemberSlice) { s.Labels[rosterv1.TeamLabel] = "eng" }), new: opsSlice, wantCode: 403, wantField: "metadata.labels[scim.roster.dev/team]"},

		// Manual teams and their slices are RBAC's business.
		{name: "admin creates a manual team", kind: "team", op: create, user: admin, new: ops},
		{name: "admin renames a manual team", kind: "team", op: update, user: admin, old: ops, new: with(ops, func(t *rosterv1.OrgTeam) { t.Spec.DisplayName = "Operations" })},
		{name: "admin deletes a manual team", kind: "team", op: del, user: admin, old: ops},
		{name: "admin creates a slice of a manual team", kind: "slice", op: create, user: admin, new: slice("ops", "u-1")},
		{name: "admin changes a manual team's members", kind: "slice", op: update, user: admin, old: opsSlice, new: slice("ops", "u-2")},
		{name: "admin deletes a slice of a manual team", kind: "slice", op: del, user: admin, old: opsSlice},

		// A slice whose team does not exist.
		{name: "a slice of a missing team is refused", kind: "slice", op: create, user: admin, new: slice("future", "u-1"), wantCode: 422, wantField: "spec.team", wantMsg: "create the team first"},
		{name: "an orphaned slice can be deleted", kind: "slice", op: del, user: admin, old: slice("gone", "u-1")},
		{name: "a failed team lookup fails closed", kind: "slice", op: create, user: admin, new: slice("broken"), wantCode: 503},

		// What else passes: no-op updates, unsticking a deletion, Kubernetes' cleanup.
		{name: "re-applying an unchanged SCIM team", kind: "team", op: update, user: admin, old: eng, new: with(eng, func(t *rosterv1.OrgTeam) {
			t.ResourceVersion = "42"
			t.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		})},
		{name: "removing finalizers of a terminating user", kind: "user", op: update, user: admin, old: terminating(with(user(), func(u *rosterv1.OrgUser) { withFinalizer(u) })), new: terminating(user())},
		{name: "removing finalizers of a live user", kind: "user", op: update, user: admin, old: with(user(), func(u *rosterv1.OrgUser) { withFinalizer(u) }), new: user(), wantCode: 403, wantField: "metadata.finalizers"},
		{name: "adding a finalizer to a terminating SCIM team", kind: "team", op: update, user: admin, old: terminating(eng), new: terminating(with(eng, func(t *rosterv1.OrgTeam) { withFinalizer(t) })), wantCode: 403, wantField: "metadata.finalizers"},
		{name: "namespace controller deletes a user", kind: "user", op: del, user: namespaceController, old: user()},
		{name: "namespace controller cannot change a user", kind: "user", op: update, user: namespaceController, old: user(), new: with(user(), func(u *rosterv1.OrgUser) { u.Spec.DisplayName = "x" }), wantCode: 403},
		{name: "garbage collector deletes a slice", kind: "slice", op: del, user: garbageCollector, old: engSlice},
		{name: "garbage collector orphans a slice", kind: "slice", op: update, user: garbageCollector, old: with(engSlice, func(s *rosterv1.OrgTeamMemberSlice) {
			s.OwnerReferences = []metav1.OwnerReference{{Kind: "OrgTeam", Name: "eng"}}
		}), new: engSlice},
		{name: "garbage collector cannot change members", kind: "slice", op: update, user: garbageCollector, old: engSlice, new: slice("eng"), wantCode: 403, wantField: "spec.members"},
		{name: "kube-controller-manager's shared identity deletes a team", kind: "team", op: del, user: controllerManager, old: eng},
		{name: "another kube-system account is refused", kind: "team", op: del, user: "system:serviceaccount:kube-system:default", old: eng, wantCode: 403},

		// Display-name claims are Roster's alone, whatever the team.
		{name: "roster claims a name", kind: "claim", op: create, user: rosterUser, new: claim("Eng", "eng")},
		{name: "roster takes over a stale claim", kind: "claim", op: update, user: rosterUser, old: claim("Eng", "gone"), new: claim("eng", "eng")},
		{name: "roster releases a name", kind: "claim", op: del, user: rosterUser, old: claim("Eng", "eng")},
		{name: "admin squats a name", kind: "claim", op: create, user: admin, new: claim("Eng", "g-squatter"), wantCode: 403, wantField: "spec.displayName", wantMsg: "only Roster's SCIM server creates OrgTeamNameClaims"},
		{name: "admin hands a name to another team", kind: "claim", op: update, user: admin, old: claim("Eng", "eng"), new: with(claim("Eng", "eng"), func(c *rosterv1.OrgTeamNameClaim) { c.Spec.Team = "ops" }), wantCode: 403, wantField: "spec.team", wantMsg: `the display name "Eng" is held by team "eng"`},
		{name: "admin frees a name", kind: "claim", op: del, user: admin, old: claim("Eng", "eng"), wantCode: 403, wantField: "spec.displayName", wantMsg: "Roster releases the name"},
		{name: "re-applying an unchanged claim", kind: "claim", op: update, user: admin, old: claim("Eng", "eng"), new: with(claim("Eng", "eng"), func(c *rosterv1.OrgTeamNameClaim) { c.ResourceVersion = "7" })},
		{name: "namespace controller deletes a claim", kind: "claim", op: del, user: namespaceController, old: claim("Eng", "eng")},
	}
	g := testGuard()
	judges := map[string]func(context.Context, request) error{"user": g.judgeUser, "team": g.judgeTeam, "slice": g.judgeSlice, "claim": g.judgeClaim}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := judges[tc.kind](context.Background(), request{op: tc.op, user: tc.user, old: tc.old, new: tc.new})
			st := expectDecision(t, err, tc.wantCode, tc.wantField, tc.wantMsg)
			if st == nil {
				return
			}
			if tc.wantField != "" && !strings.Contains(st.Message, tc.wantField+": ") {
				t.Errorf("message does not name %s: %s", tc.wantField, st.Message)
			}
			if tc.wantCode == 403 && !strings.Contains(st.Message, "identity provider") {
				t.Errorf("a denial must name the identity provider as the place to change it: %s", st.Message)
			}
		})
	}
}

// expectDecision checks a judge's answer: allowed when wantCode is 0, else a denial with that
// code, one cause on wantField (when set) and wantMsg in its message. It returns the denial's
// status (nil when allowed) for checks of the caller's own.
func expectDecision(t *testing.T, err error, wantCode int32, wantField, wantMsg string) *metav1.Status {
	t.Helper()
	if wantCode == 0 {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return nil
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("want a denial with code %d, got %v", wantCode, err)
	}
	st := se.Status()
	if st.Code != wantCode {
		t.Errorf("code %d, want %d: %s", st.Code, wantCode, st.Message)
	}
	if wantField != "" && (st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != wantField) {
		t.Errorf("causes %+v, want one on %s", st.Details, wantField)
	}
	if !strings.Contains(st.Message, wantMsg) {
		t.Errorf("message %q lacks %q", st.Message, wantMsg)
	}
	return &st
}

func TestChangedPaths(t *testing.T) {
	u := user()
	cases := []struct {
		name string
		new  *rosterv1.OrgUser
		want []string
	}{
		{"nothing", with(u, func(u *rosterv1.OrgUser) { u.ResourceVersion, u.Generation = "9", 3 }), nil},
		{"a nested spec field", with(u, func(u *rosterv1.OrgUser) { u.Spec.Name = &rosterv1.Name{GivenName: "Ada"} }), []string{"spec.name.givenName"}},
		{"a label key with dots and slashes", with(u, func(u *rosterv1.OrgUser) { u.Labels[rosterv1.OrgLabel] = "globex" }), []string{"metadata.labels[scim.roster.dev/org]"}},
		{"the first annotation", with(u, func(u *rosterv1.OrgUser) { u.Annotations = map[string]string{"note": "x"} }), []string{"metadata.annotations[note]"}},
		{"spec before metadata", with(u, func(u *rosterv1.OrgUser) {
			u.Finalizers = []string{"f"}
			u.Spec.UserName = "ada@example.org"
		}), []string{"spec.userName", "metadata.finalizers"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := changedPaths(u, tc.new)
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", s, tc.want)
			}
		})
	}
}
