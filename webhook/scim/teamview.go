package scim

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"time"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// teamView is a team as SCIM sees it. Its members live in other objects, so a membership
// change does not touch the OrgTeam: the view's version and last-modified time cover the
// team and its member slices, so that a membership change yields a new ETag (If-Match and
// If-None-Match stay truthful) and a new meta.lastModified.
type teamView struct {
	*rosterv1.OrgTeam
	version     string
	annotations map[string]string
}

// GetResourceVersion is the team's version combined with its slices'.
func (v teamView) GetResourceVersion() string { return v.version }

// GetAnnotations carries the latest last-modified time of the team and its slices.
func (v teamView) GetAnnotations() map[string]string { return v.annotations }

// view reads a team's slices from the cache (their headers only, no member lists are
// copied) and builds its view.
func (s *Server) view(ctx context.Context, t *rosterv1.OrgTeam) (teamView, error) {
	sl, err := s.members.Slices(ctx, t, false)
	if err != nil {
		return teamView{}, err
	}
	v := teamView{OrgTeam: t, version: t.ResourceVersion, annotations: t.Annotations}
	if len(sl) == 0 {
		return v, nil
	}
	// Order-independent: XOR of per-slice hashes of name and resourceVersion, so no sorting
	// and no formatting per slice — this runs on every read of the group.
	var sum uint64
	newest, newestRV := -1, uint64(0)
	for i := range sl {
		h := fnv.New64a()
		h.Write([]byte(sl[i].Name))
		h.Write([]byte{0})
		h.Write([]byte(sl[i].ResourceVersion))
		sum ^= h.Sum64()
		if rv, err := strconv.ParseUint(sl[i].ResourceVersion, 10, 64); err == nil && rv >= newestRV {
			newest, newestRV = i, rv
		}
	}
	// The slice written last carries the latest write time of the team's members.
	latest, _ := time.Parse(time.RFC3339Nano, t.Annotations[rosterv1.LastModifiedAnnotation])
	if newest >= 0 {
		if at, err := time.Parse(time.RFC3339Nano, sl[newest].Annotations[rosterv1.LastModifiedAnnotation]); err == nil && at.After(latest) {
			latest = at
		}
	}
	v.version = fmt.Sprintf("%s-%x", t.ResourceVersion, sum)
	v.annotations = maps.Clone(t.Annotations)
	if v.annotations == nil {
		v.annotations = map[string]string{}
	}
	if !latest.IsZero() {
		v.annotations[rosterv1.LastModifiedAnnotation] = latest.UTC().Format(time.RFC3339Nano)
	}
	return v, nil
}
