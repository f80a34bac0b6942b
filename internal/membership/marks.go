package membership

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// A membership change that needs several slice writes (a 100,000-member PUT, a batch that
// touches several slices) is not atomic in the apiserver. So that the identity store never
// sees it half-way — dropping and re-adding thousands of memberships, access flapping — the
// change is bracketed by a mark on the team: an annotation written before its first slice
// write and removed after its last. The team controller syncs a team's members only when no
// mark is open (Settled). A change that fails half-way leaves its mark "failed": the state is
// partial until the identity provider retries (it was answered with an error), and the
// successful change that writes the member set the failed one meant to — the retry — clears it. A replica that dies mid-change leaves its mark
// "open"; marks older than markTTL are ignored and cleared, so a team never stays unsynced.
// A mark's value is "<state> <RFC 3339 time>", and for a failed change " <digest of the member
// set it meant to write>".

// MarkPrefix starts the annotation keys of open membership changes.
const MarkPrefix = "change.scim.roster.dev/"

// markTTL is how long a mark holds the team controller back at most: well past commitTimeout,
// the longest a live change runs.
const markTTL = 2 * commitTimeout

const (
	markOpen   = "open"
	markFailed = "failed"
)

// openChange writes a new open mark on the team and returns its key and the team after it.
//
// With resourceVersion set, the mark is written only if the team is still at it.
func (s *Store) openChange(ctx context.Context, team *rosterv1.OrgTeam, resourceVersion string) (string, *metav1.PartialObjectMetadata, error) {
	key := MarkPrefix + randomID()
	meta, err := s.patchTeam(ctx, team, map[string]any{key: markValue(markOpen, time.Now())}, resourceVersion)
	return key, meta, err
}

// closeChange removes the change's mark after success; after a failure it turns the mark to
// failed, with the digest of the member set the change meant to write. A success also clears
// the failed marks it completes — those whose target is the member set now written (the
// identity provider's retry) — and expired ones; a failed mark of another target stays until
// it expires, so an unrelated change in between does not let a half-written state through.
// It runs on its own context (cleanupContext): the change's may be the reason it failed.
func (s *Store) closeChange(team *rosterv1.OrgTeam, mark string, changeErr error, marks map[string]string, final Set) {
	ctx, cancel := s.cleanupContext()
	defer cancel()
	// The digest sorts and hashes every member: computed only when a mark needs it.
	target := ""
	digest := func() string {
		if target == "" {
			target = Digest(final.Sorted())
		}
		return target
	}
	set := map[string]any{}
	if changeErr != nil {
		if mark != "" {
			set[mark] = markValue(markFailed, time.Now()) + " " + digest()
		}
	} else {
		if mark != "" {
			set[mark] = nil
		}
		for k, v := range marks {
			state, at, ok := parseMark(k, v)
			if !ok {
				continue
			}
			if time.Since(at) > markTTL || (state == markFailed && strings.HasSuffix(v, " "+digest())) {
				set[k] = nil
			}
		}
	}
	if len(set) > 0 {
		_ = s.patchAnnotations(ctx, team, set, "") // a leftover mark expires after markTTL
	}
}

// bumpRevision increments the team's RevisionAnnotation, failing with a conflict if the team
// changed since meta was read. It returns the team's metadata after the write.
func (s *Store) bumpRevision(ctx context.Context, team *rosterv1.OrgTeam, meta *metav1.PartialObjectMetadata) (*metav1.PartialObjectMetadata, error) {
	n, _ := strconv.ParseInt(meta.Annotations[RevisionAnnotation], 10, 64)
	return s.patchTeam(ctx, team, map[string]any{RevisionAnnotation: strconv.FormatInt(n+1, 10)}, meta.ResourceVersion)
}

// patchAnnotations merge-patches the team's annotations (nil removes a key); with
// resourceVersion set the patch fails with a conflict unless the team is still at it.
func (s *Store) patchAnnotations(ctx context.Context, team *rosterv1.OrgTeam, set map[string]any, resourceVersion string) error {
	_, err := s.patchTeam(ctx, team, set, resourceVersion)
	return err
}

// patchTeam is patchAnnotations returning the team's metadata after the patch.
func (s *Store) patchTeam(ctx context.Context, team *rosterv1.OrgTeam, set map[string]any, resourceVersion string) (*metav1.PartialObjectMetadata, error) {
	meta := map[string]any{"annotations": set}
	if resourceVersion != "" {
		meta["resourceVersion"] = resourceVersion
	}
	body, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return nil, err
	}
	target := teamMeta()
	target.Name, target.Namespace = team.Name, team.Namespace
	err = s.Writer.Patch(ctx, target, client.RawPatch(types.MergePatchType, body))
	// Decoding the answer may clear the kind; callers tell objects apart by it.
	target.SetGroupVersionKind(rosterv1.GroupVersion.WithKind("OrgTeam"))
	return target, err
}

func markValue(state string, at time.Time) string {
	return state + " " + at.UTC().Format(time.RFC3339Nano)
}

// parseMark reads a mark annotation; ok is false for other annotations.
func parseMark(key, value string) (state string, at time.Time, ok bool) {
	if !strings.HasPrefix(key, MarkPrefix) {
		return "", time.Time{}, false
	}
	state, rest, _ := strings.Cut(value, " ")
	ts, _, _ := strings.Cut(rest, " ")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return state, time.Time{}, true // unreadable: treat as long expired
	}
	return state, at, true
}

// pendingChange reports whether annotations hold a mark younger than markTTL.
func pendingChange(annotations map[string]string, now time.Time) bool {
	for k, v := range annotations {
		if _, at, ok := parseMark(k, v); ok && now.Sub(at) < markTTL {
			return true
		}
	}
	return false
}

// Settled returns a team's slices for the identity store, or retry > 0 when they may not be
// synced yet and the caller should look again after retry: a multi-write change is in flight
// (or failed half-way, awaiting its retry), or this replica's cache has not reached the team's
// watermark (the watch event that catches it up usually comes sooner).
//
// The cached slices are taken first, then the team is read from the apiserver: a change still
// in flight then shows its mark, and a change that completed in the meantime raised the
// watermark past what the cached slices were known to include — either way the slices are
// not taken unless a consistent list shows the cache holds exactly them. Teams without a
// watermark (made by hand) are taken from the cache as they are.
func (s *Store) Settled(ctx context.Context, team *rosterv1.OrgTeam) (slices []rosterv1.OrgTeamMemberSlice, retry time.Duration, err error) {
	seen, tracked := s.SliceProgress.SeenIn(team.Namespace)
	// Through the team index (labelledSlices): the store's periodic resync calls this for
	// every team, and a List by label would walk every slice each time (O(teams × slices)).
	cached, err := s.labelledSlices(ctx, team)
	if err != nil {
		return nil, 0, err
	}
	m := teamMeta()
	if err := s.API.Get(ctx, types.NamespacedName{Namespace: team.Namespace, Name: team.Name}, m); err != nil {
		return nil, 0, err
	}
	if pendingChange(m.Annotations, time.Now()) {
		return nil, pendingRetry, nil
	}
	if rv, ok := watermark(m.Annotations); ok && (!tracked || seen < rv) {
		// The cache has not shown that revision yet. Usually its event is on the way; but a
		// replica that just started learns revisions only from the slices it receives, so
		// compare with a consistent list (slower) before asking to wait.
		live := sliceMetaList()
		if err := s.API.List(ctx, live, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
			return nil, 0, err
		}
		if !sameVersions(cached, live.Items) {
			// The index leaves out what a List by label selects in odd cases (a label that
			// differs from spec.team, written past the webhook): compare the label's own
			// cached List before asking to wait. Rare: the cache is behind, or such a slice.
			var byLabel rosterv1.OrgTeamMemberSliceList
			if err := s.Cache.List(ctx, &byLabel, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name},
				client.UnsafeDisableDeepCopy); err != nil {
				return nil, 0, err
			}
			if !sameVersions(byLabel.Items, live.Items) {
				return nil, behindRetry, nil
			}
			cached = byLabel.Items
		}
	}
	return cached, 0, nil
}

// How soon Settled asks to look again: a cache behind the apiserver catches up within a
// watch round trip; an open change takes a commit (tens of milliseconds to seconds).
const (
	behindRetry  = 10 * time.Millisecond
	pendingRetry = 100 * time.Millisecond
)
