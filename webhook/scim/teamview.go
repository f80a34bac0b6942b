package scim

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
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
	slices.SortFunc(sl, func(a, b rosterv1.OrgTeamMemberSlice) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	h := fnv.New64a()
	latest, _ := time.Parse(time.RFC3339Nano, t.Annotations[rosterv1.LastModifiedAnnotation])
	for _, x := range sl {
		fmt.Fprintf(h, "%s=%s;", x.Name, x.ResourceVersion)
		if at, err := time.Parse(time.RFC3339Nano, x.Annotations[rosterv1.LastModifiedAnnotation]); err == nil && at.After(latest) {
			latest = at
		}
	}
	v.version = fmt.Sprintf("%s-%x", t.ResourceVersion, h.Sum64())
	v.annotations = maps.Clone(t.Annotations)
	if v.annotations == nil {
		v.annotations = map[string]string{}
	}
	if !latest.IsZero() {
		v.annotations[rosterv1.LastModifiedAnnotation] = latest.UTC().Format(time.RFC3339Nano)
	}
	return v, nil
}
