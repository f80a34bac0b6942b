package directory

import (
	"context"
	"slices"
	"sync"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
)

// Written names the Kubernetes objects that directory calls made with a context from
// TrackWrites created, updated or deleted, as "Kind/name" (all in the organization's
// namespace). The SCIM server puts them in a write's audit line, so that the line can be
// matched with the apiserver's audit log, which names the same objects. A delete of a team's
// member slices is one delete-collection request: it is named by its label selector.
type Written struct {
	mu    sync.Mutex
	names []string
}

type writtenKey struct{}

// TrackWrites returns a context whose directory calls record the objects they write in the
// returned Written.
func TrackWrites(ctx context.Context) (context.Context, *Written) {
	w := &Written{}
	return context.WithValue(ctx, writtenKey{}, w), w
}

// Objects returns the names recorded so far, in the order of their first write.
func (w *Written) Objects() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, w.names...) // never nil: "objects":[] says nothing was written
}

func (w *Written) add(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.names, name) {
		w.names = append(w.names, name)
	}
}

// recordWrite adds "kind/name" to the context's Written, if it has one.
func recordWrite(ctx context.Context, kind, name string) {
	if w, ok := ctx.Value(writtenKey{}).(*Written); ok && kind != "" && name != "" {
		w.add(kind + "/" + name)
	}
}

// recordResults records the objects membership changes wrote: their slices and, when a
// slice was written, the team (its watermark and change marks live on it).
func recordResults(ctx context.Context, results []membership.Result) {
	for _, res := range results {
		if sl, ok := res.Last.(*rosterv1.OrgTeamMemberSlice); ok {
			recordWrite(ctx, kindTeam, sl.Spec.Team)
		}
		if res.Revised != nil {
			recordWrite(ctx, kindTeam, res.Revised.GetName())
		}
		for _, name := range res.Slices {
			recordWrite(ctx, kindSlice, name)
		}
	}
}

// recordSlicesOf records the delete of every member slice of a team.
func recordSlicesOf(ctx context.Context, team string) {
	recordWrite(ctx, kindSlice, "*?labelSelector="+rosterv1.TeamLabel+"="+team)
}
