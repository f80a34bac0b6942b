package membership

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// RevisionAnnotation counts the membership changes of a team that were made under a
// precondition (If-Match). Such a change bumps it with a resourceVersion-checked write before
// its slices are written, so that of two writers holding the same version only one succeeds;
// the counter is part of the team's version.
const RevisionAnnotation = "scim.roster.dev/members-revision"

// View is a team as SCIM sees it: its members live in other objects, so its version and
// last-modified time cover the team and its member slices.
//
// The version changes exactly when what SCIM shows changes: it is built from metadata.generation
// (which the apiserver moves on spec changes only, never on finalizers, labels, annotations or
// status) of the team and of each slice, the team's UID and its RevisionAnnotation — so it is
// the same on every replica that has seen the same writes.
type View struct {
	Team         *rosterv1.OrgTeam
	Version      string
	LastModified time.Time
}

// sliceStamp is what a team's version and last-modified time need of one slice.
type sliceStamp struct {
	name         string
	generation   int64
	resourceVer  string
	lastModified string
	empty        bool
}

// NewView builds the view of a team from its slices (from the cache or a fence).
func NewView(team *rosterv1.OrgTeam, slices []rosterv1.OrgTeamMemberSlice) View {
	return newView(team, team, stamps(slices))
}

func stamps(slices []rosterv1.OrgTeamMemberSlice) []sliceStamp {
	out := make([]sliceStamp, len(slices))
	for i := range slices {
		out[i] = sliceStamp{slices[i].Name, slices[i].Generation, slices[i].ResourceVersion,
			slices[i].Annotations[rosterv1.LastModifiedAnnotation], len(slices[i].Spec.Members) == 0}
	}
	return out
}

// newView computes a view; meta is the team's metadata (the cached team's, or a fresh read's).
func newView(team *rosterv1.OrgTeam, meta metav1.Object, slices []sliceStamp) View {
	// Order-independent: XOR of per-slice hashes, so no sorting per read.
	var sum uint64
	newest, newestRV := -1, uint64(0)
	for i, sl := range slices {
		if sl.empty {
			// An emptied slice shows nothing, and is deleted later: neither may move the
			// version or lastModified. (The change that emptied it stamped the team itself
			// with the watermark, so lastModified still moved with it.)
			continue
		}
		sum ^= componentHash(sl.name, strconv.FormatInt(sl.generation, 10))
		if rv, err := strconv.ParseUint(sl.resourceVer, 10, 64); err == nil && rv >= newestRV {
			newest, newestRV = i, rv
		}
	}
	sum ^= componentHash(string(meta.GetUID()), meta.GetAnnotations()[RevisionAnnotation])
	v := View{Team: team, Version: fmt.Sprintf("%d-%016x", meta.GetGeneration(), sum)}
	v.LastModified, _ = time.Parse(time.RFC3339Nano, meta.GetAnnotations()[rosterv1.LastModifiedAnnotation])
	// The slice written last carries the latest write time of the team's members.
	if newest >= 0 {
		if at, err := time.Parse(time.RFC3339Nano, slices[newest].lastModified); err == nil && at.After(v.LastModified) {
			v.LastModified = at
		}
	}
	if v.LastModified.IsZero() {
		v.LastModified = meta.GetCreationTimestamp().Time
	}
	return v
}

// componentHash hashes one part of a team's version (the team's UID and revision, or a slice's
// name and generation) for the XOR that combines them.
//
// The FNV-1a sum is mixed (murmur3's fmix64) before the XOR: FNV barely spreads a change of
// the last bytes, so a revision going from "27" to "28" and a slice's generation doing the same
// changed the raw sums by nearly the same bits, and the XOR of both changes cancelled often
// enough (about one If-Match round in a few hundred) that a precondition taken before a
// change matched the version after it. Mixing gives each change an independent 64-bit
// difference.
func componentHash(key, value string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(value))
	k := h.Sum64()
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// view is the view of a fenced snapshot: the team's metadata as read live.
func (snap snapshot) view(team *rosterv1.OrgTeam) View {
	return newView(team, &snap.team, stamps(snap.slices))
}
