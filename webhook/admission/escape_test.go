package admission

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

const breakGlassGroup = "roster:break-glass"

// escapeGuard judges with break-glass open to breakGlassGroup, organization "acme" in the
// given SCIM state, a manual team "ops" and SCIM teams: "eng"; "open", which carries the
// break-glass annotation and which Roster opened; "recording", annotated but not opened
// yet; and "restoring", whose break-glass the identity provider's write is ending.
func escapeGuard(state rosterv1.SCIMState, events record.EventRecorder) *guard {
	teams := map[string]*rosterv1.OrgTeam{
		"eng":       team("eng", rosterv1.ManagedBySCIM),
		"open":      opened(annotated(team("open", rosterv1.ManagedBySCIM), "INC-42: revoke a contractor"), "open 0123"),
		"recording": annotated(team("recording", rosterv1.ManagedBySCIM), "INC-43"),
		"restoring": opened(annotated(team("restoring", rosterv1.ManagedBySCIM), "INC-44"), "restoring 0123 4567 2026-01-01T00:00:00Z"),
		"ops":       team("ops", rosterv1.ManagedByManual),
	}
	lookup := func(_ context.Context, ns, name string) (*rosterv1.OrgTeam, error) {
		if t, ok := teams[name]; ok && ns == "acme" {
			return t, nil
		}
		return nil, nil
	}
	return &guard{
		scim:     sets.New(rosterUser),
		teams:    lookup,
		liveTeam: lookup,
		orgs: func(_ context.Context, name string) (*rosterv1.Organization, error) {
			if name != "acme" {
				return nil, nil
			}
			o := &rosterv1.Organization{Spec: rosterv1.OrganizationSpec{Namespace: "acme", SCIM: state}}
			o.Name = name
			return o, nil
		},
		log:        logr.Discard(),
		breakGlass: breakGlassGroup,
		events:     events,
	}
}

func annotated(t *rosterv1.OrgTeam, reason string) *rosterv1.OrgTeam {
	return with(t, func(t *rosterv1.OrgTeam) {
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[rosterv1.BreakGlassAnnotation] = reason
	})
}

// opened sets a team's break-glass state, as Roster does.
func opened(t *rosterv1.OrgTeam, state string) *rosterv1.OrgTeam {
	return with(t, func(t *rosterv1.OrgTeam) { t.Annotations[rosterv1.BreakGlassStateAnnotation] = state })
}

// snapshotOf makes a slice part of a break-glass snapshot of team.
func snapshotOf(sl *rosterv1.OrgTeamMemberSlice, team string) *rosterv1.OrgTeamMemberSlice {
	return with(sl, func(sl *rosterv1.OrgTeamMemberSlice) {
		delete(sl.Labels, rosterv1.TeamLabel)
		sl.Labels[rosterv1.SnapshotOfLabel], sl.Labels[rosterv1.SnapshotLabel] = team, "0123"
	})
}

func TestEscapeDecisions(t *testing.T) {
	const (
		create = admissionv1.Create
		update = admissionv1.Update
		del    = admissionv1.Delete
	)
	eng, open := team("eng", rosterv1.ManagedBySCIM), opened(annotated(team("open", rosterv1.ManagedBySCIM), "INC-42: revoke a contractor"), "open 0123")
	manual := func(t *rosterv1.OrgTeam) *rosterv1.OrgTeam {
		return with(t, func(t *rosterv1.OrgTeam) { t.Spec.ManagedBy = rosterv1.ManagedByManual })
	}
	member := []string{"system:authenticated", breakGlassGroup}
	cases := []struct {
		name     string
		state    rosterv1.SCIMState // of organization acme; "" is Enabled
		noGlass  bool               // break-glass not configured
		kind     string
		op       admissionv1.Operation
		user     string
		groups   []string
		dryRun   bool
		old, new client.Object
		// want: "" allowed, else the denial's code, field and a part of its message.
		wantCode   int32
		wantField  string
		wantMsg    string
		wantEvents int
	}{
		// managedBy: scim → manual, by Roster, only while SCIM is disabled.
		{name: "roster releases a team of a disabled org", state: rosterv1.SCIMDisabled, kind: "team", op: update, user: rosterUser, old: eng, new: manual(eng)},
		{name: "roster cannot release a team of an enabled org", kind: "team", op: update, user: rosterUser, old: eng, new: manual(eng),
			wantCode: 403, wantField: "spec.managedBy", wantMsg: `SCIM is not disabled for organization "acme"`},
		{name: "roster cannot release a team of a missing org", state: rosterv1.SCIMDisabled, kind: "team", op: update, user: rosterUser,
			old: with(eng, func(t *rosterv1.OrgTeam) { t.Labels[rosterv1.OrgLabel] = "gone" }), new: with(manual(eng), func(t *rosterv1.OrgTeam) { t.Labels[rosterv1.OrgLabel] = "gone" }),
			wantCode: 403, wantField: "spec.managedBy"},
		{name: "an admin cannot release a team of a disabled org", state: rosterv1.SCIMDisabled, kind: "team", op: update, user: admin, old: eng, new: manual(eng),
			wantCode: 403, wantField: "spec.managedBy", wantMsg: "only Roster turns a SCIM team manual"},
		{name: "an admin cannot release a team of an enabled org", kind: "team", op: update, user: admin, old: eng, new: manual(eng),
			wantCode: 403, wantField: "spec.managedBy", wantMsg: `(spec.scim: Disabled on Organization "acme")`},
		{name: "break-glass does not release a team", state: rosterv1.SCIMDisabled, kind: "team", op: update, user: admin, groups: member, old: open, new: manual(open),
			wantCode: 403, wantField: "spec.managedBy"},

		// Break-glass on the team itself: the annotation, and deletion.
		{name: "a member annotates a SCIM team", kind: "team", op: update, user: admin, groups: member, old: eng, new: annotated(eng, "INC-7"), wantEvents: 1},
		{name: "a dry run is not recorded", kind: "team", op: update, user: admin, groups: member, dryRun: true, old: eng, new: annotated(eng, "INC-7")},
		{name: "a member changes the reason", kind: "team", op: update, user: admin, groups: member, old: open, new: annotated(open, "INC-8"), wantEvents: 1},
		{name: "a member removes the annotation", kind: "team", op: update, user: admin, groups: member, old: open,
			new: with(open, func(t *rosterv1.OrgTeam) { delete(t.Annotations, rosterv1.BreakGlassAnnotation) }), wantEvents: 1},
		{name: "a member cannot open a team to edits", kind: "team", op: update, user: admin, groups: member, old: annotated(eng, "INC-7"), new: opened(annotated(eng, "INC-7"), "open 0123"),
			wantCode: 403, wantField: "metadata.annotations[scim.roster.dev/break-glass-state]", wantMsg: "only sets or removes annotation scim.roster.dev/break-glass"},
		{name: "a member deletes an annotated team", kind: "team", op: del, user: admin, groups: member, old: open, wantEvents: 1},
		{name: "a member cannot delete a team without the reason", kind: "team", op: del, user: admin, groups: member, old: eng,
			wantCode: 403, wantField: "metadata.annotations[scim.roster.dev/break-glass]", wantMsg: "first give the reason on the team (kubectl annotate orgteam -n acme eng scim.roster.dev/break-glass="},
		{name: "a member cannot edit a team without the reason", kind: "team", op: update, user: admin, groups: member, old: eng,
			new: with(eng, func(t *rosterv1.OrgTeam) { t.Labels["x"] = "y" }), wantCode: 403, wantField: "metadata.labels[x]", wantMsg: "needs the reason in annotation scim.roster.dev/break-glass in the same request"},
		{name: "a blank reason is no reason", kind: "team", op: update, user: admin, groups: member, old: eng, new: annotated(eng, "  "),
			wantCode: 403, wantField: "metadata.annotations[scim.roster.dev/break-glass]", wantMsg: "needs the reason"},
		{name: "a member cannot rename a SCIM team", kind: "team", op: update, user: admin, groups: member, old: eng,
			new: annotated(with(eng, func(t *rosterv1.OrgTeam) { t.Spec.DisplayName = "Renamed" }), "INC-7"), wantCode: 403, wantField: "spec.displayName", wantMsg: "only sets or removes annotation"},
		{name: "a member cannot create a SCIM team", kind: "team", op: create, user: admin, groups: member, new: annotated(team("new", rosterv1.ManagedBySCIM), "INC-7"),
			wantCode: 403, wantField: "spec.managedBy", wantMsg: "does not create SCIM-managed teams"},
		{name: "someone outside the group is told which group", kind: "team", op: update, user: admin, old: eng, new: annotated(eng, "INC-7"),
			wantCode: 403, wantField: "metadata.annotations[scim.roster.dev/break-glass]", wantMsg: `a member of group "roster:break-glass" can edit it by hand`},
		{name: "without a break-glass group nobody is", noGlass: true, kind: "team", op: update, user: admin, groups: member, old: eng, new: annotated(eng, "INC-7"),
			wantCode: 403, wantField: "metadata.annotations[scim.roster.dev/break-glass]", wantMsg: "SCIM-managed teams mirror the identity provider"},

		// Break-glass on the members: while the team carries the annotation and Roster opened it.
		{name: "a member changes the members of an open team", kind: "slice", op: update, user: admin, groups: member, old: slice("open", "u-1"), new: slice("open", "u-1", "u-2"), wantEvents: 1},
		{name: "a member deletes a slice of an open team", kind: "slice", op: del, user: admin, groups: member, old: slice("open", "u-1"), wantEvents: 1},
		{name: "a member cannot create a slice, which the restore could miss", kind: "slice", op: create, user: admin, groups: member, new: slice("open", "u-3"),
			wantCode: 403, wantField: "spec.team", wantMsg: "add members to OrgTeamMemberSlice open-break-glass, which Roster created for them"},
		{name: "a member changes only the members of a slice", kind: "slice", op: update, user: admin, groups: member, old: slice("open", "u-1"),
			new: with(slice("open", "u-1"), func(sl *rosterv1.OrgTeamMemberSlice) { sl.Labels["x"] = "y" }), wantCode: 403, wantField: "metadata.labels[x]", wantMsg: "changes spec.members only"},
		{name: "not before Roster recorded the members", kind: "slice", op: update, user: admin, groups: member, old: slice("recording", "u-1"), new: slice("recording"),
			wantCode: 403, wantField: "spec.members", wantMsg: "Roster is recording the members the identity provider of organization \"acme\" set"},
		{name: "not once the identity provider's write ends it", kind: "slice", op: update, user: admin, groups: member, old: slice("restoring", "u-1"), new: slice("restoring"),
			wantCode: 403, wantField: "spec.members", wantMsg: "write of the team ended the break-glass edit and restores the members from before it"},
		{name: "a member cannot change the snapshot", kind: "slice", op: update, user: admin, groups: member, old: snapshotOf(slice("open", "u-1"), "open"), new: snapshotOf(slice("open"), "open"),
			wantCode: 403, wantField: "spec.members", wantMsg: "is Roster's record of the members"},
		{name: "nor forge one through a manual team's slice", kind: "slice", op: create, user: admin, new: snapshotOf(slice("ops", "u-9"), "open"),
			wantCode: 403, wantField: "metadata.labels[scim.roster.dev/snapshot-of]", wantMsg: "only Roster writes it"},
		{name: "nor delete one", kind: "slice", op: del, user: admin, groups: member, old: snapshotOf(slice("open", "u-1"), "open"),
			wantCode: 403, wantField: "metadata.labels[scim.roster.dev/snapshot-of]"},
		{name: "a member cannot change the members of a team without the reason", kind: "slice", op: update, user: admin, groups: member, old: slice("eng", "u-1"), new: slice("eng"),
			wantCode: 403, wantField: "spec.members", wantMsg: "first give the reason on the team (kubectl annotate orgteam -n acme eng"},
		{name: "someone outside the group cannot change an annotated team's members", kind: "slice", op: update, user: admin, old: slice("open", "u-1"), new: slice("open"),
			wantCode: 403, wantField: "spec.members", wantMsg: `a member of group "roster:break-glass"`},
		{name: "break-glass does not open OrgUsers", kind: "user", op: update, user: admin, groups: member, old: user(), new: with(user(), func(u *rosterv1.OrgUser) { u.Spec.DisplayName = "x" }),
			wantCode: 403, wantField: "spec.displayName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			events := record.NewFakeRecorder(10)
			g := escapeGuard(tc.state, events)
			if tc.noGlass {
				g.breakGlass = ""
			}
			judges := map[string]func(context.Context, request) error{"user": g.judgeUser, "team": g.judgeTeam, "slice": g.judgeSlice}
			err := judges[tc.kind](context.Background(), request{op: tc.op, user: tc.user, groups: tc.groups, dryRun: tc.dryRun, old: tc.old, new: tc.new})
			close(events.Events)
			var recorded []string
			for e := range events.Events {
				recorded = append(recorded, e)
			}
			if len(recorded) != tc.wantEvents {
				t.Errorf("events %q, want %d", recorded, tc.wantEvents)
			}
			for _, e := range recorded {
				if !strings.HasPrefix(e, "Warning BreakGlassWrite Break-glass ") || !strings.Contains(e, "by "+admin+" (group roster:break-glass), reason: ") {
					t.Errorf("event %q", e)
				}
			}
			st := expectDecision(t, err, tc.wantCode, tc.wantField, tc.wantMsg)
			if st == nil {
				return
			}
			if tc.noGlass && strings.Contains(st.Message, "in an emergency") {
				t.Errorf("break-glass is off, yet the message offers it: %s", st.Message)
			}
		})
	}
}

// TestBreakGlassGroupOfEveryone: a group every user (or every service account) is in would
// open SCIM teams to all of them; Roster refuses to start with it.
func TestBreakGlassGroupOfEveryone(t *testing.T) {
	opts := Options{SCIMIdentities: []string{rosterUser}, Cache: nopReader{}, APIReader: nopReader{}}
	for _, g := range []string{"system:authenticated", "system:serviceaccounts", "system:serviceaccounts:tenant", "system:nodes", "system:masters"} {
		opts.BreakGlassGroup = g
		if _, err := newGuard(opts); err == nil || !strings.Contains(err.Error(), g) {
			t.Errorf("group %q: %v", g, err)
		}
	}
	opts.BreakGlassGroup = breakGlassGroup
	if _, err := newGuard(opts); err != nil {
		t.Errorf("group %q: %v", breakGlassGroup, err)
	}
}

type nopReader struct{ client.Reader }
