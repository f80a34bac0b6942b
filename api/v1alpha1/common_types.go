package v1alpha1

import (
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations Roster puts on its objects.
const (
	// LastModifiedAnnotation records the time of the last SCIM write to an object (RFC 3339),
	// served as meta.lastModified.
	LastModifiedAnnotation = "scim.roster.dev/last-modified"

	// OrgLabel names the Organization an OrgUser or OrgTeam belongs to.
	OrgLabel = "scim.roster.dev/org"

	// ManagedBySCIM is the OrgTeam.spec.managedBy value of teams provisioned by the identity
	// provider; their memberships can only be changed through SCIM.
	ManagedBySCIM = "scim"
	// ManagedByManual is the OrgTeam.spec.managedBy value of teams created by hand.
	ManagedByManual = "manual"

	// BreakGlassAnnotation on a SCIM-managed OrgTeam holds the reason for an emergency edit
	// by hand. The admission webhook lets members of the break-glass group (roster manager
	// --break-glass-group) set it, and while the team carries it, change the team's member
	// slices; the identity provider's next write of the team removes it.
	BreakGlassAnnotation = "scim.roster.dev/break-glass"

	// BreakGlassStateAnnotation on a SCIM-managed OrgTeam is Roster's own record of a
	// break-glass edit (internal/membership, breakglass.go); only Roster writes it:
	//   - "open <id>": Roster has snapshotted the members as the identity provider set them
	//     (OrgTeamMemberSlices labelled SnapshotLabel=<id>); hand edits of the team's slices
	//     are admitted only in this state, and only while BreakGlassAnnotation is set too;
	//   - "restoring <id> <lock> <time>": the identity provider's write is putting those
	//     members back; no hand edit is admitted;
	//   - "refused <why>": no snapshot was taken (the team is too large), so no hand edit is
	//     admitted either.
	// The identity provider's write that ends the break-glass removes it.
	BreakGlassStateAnnotation = "scim.roster.dev/break-glass-state"
)

// The states of BreakGlassStateAnnotation, its first word.
const (
	BreakGlassOpen      = "open"
	BreakGlassRestoring = "restoring"
	BreakGlassRefused   = "refused"
)

// BreakGlassState splits an object's BreakGlassStateAnnotation into its state (""
// when it has none) and the rest.
func BreakGlassState(o metav1.Object) (state, rest string) {
	state, rest, _ = strings.Cut(o.GetAnnotations()[BreakGlassStateAnnotation], " ")
	return state, rest
}

// Condition types shared by Roster's kinds.
const (
	// ConditionReady summarises the state of an object.
	ConditionReady = "Ready"
	// ConditionSynced says whether the object is in the downstream identity store.
	ConditionSynced = "Synced"
	// ConditionTokenConfigured says whether the organization has a usable SCIM token.
	ConditionTokenConfigured = "TokenConfigured"
)

// StampLastModified records t as the time of the last SCIM write of obj
// (LastModifiedAnnotation).
func StampLastModified(obj metav1.Object, t time.Time) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[LastModifiedAnnotation] = t.UTC().Format(time.RFC3339Nano)
	obj.SetAnnotations(a)
}
