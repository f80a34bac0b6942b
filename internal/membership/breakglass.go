package membership

import (
	"context"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// A break-glass edit (rosterv1.BreakGlassAnnotation; webhook/admission) writes a SCIM team's
// slices by hand, outside every watermark: a fence that trusted the cache could plan from
// slices without it. So while a team carries the annotation its fences list the slices from
// the apiserver (currentSlices), and the identity provider's next write, which ends the
// break-glass, raises the watermark over every slice the team has then.

// breakGlass reports whether a team's annotations open it to break-glass edits.
func breakGlass(annotations map[string]string) bool {
	_, ok := annotations[rosterv1.BreakGlassAnnotation]
	return ok
}

// EndBreakGlass removes a team's break-glass annotation, if it has one, and raises its
// watermark to the revision of a consistent list of its slices, in one write that carries the
// team's resourceVersion: every break-glass slice write before it — creates, updates and
// deletes — is then under the watermark, and the next fence may read from the cache again.
// (The list's revision is the apiserver's, which a cache learns from the next slice event;
// until then a fence waits out watermarkWait and lists, once.)
func (s *Store) EndBreakGlass(ctx context.Context, team *rosterv1.OrgTeam) error {
	key := types.NamespacedName{Namespace: team.Namespace, Name: team.Name}
	return retry.RetryOnConflict(ConflictBackoff, func() error {
		m := teamMeta()
		if err := s.API.Get(ctx, key, m); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !breakGlass(m.Annotations) {
			return nil
		}
		slices := sliceMetaList()
		if err := s.API.List(ctx, slices, client.InNamespace(team.Namespace), client.MatchingLabels{rosterv1.TeamLabel: team.Name}); err != nil {
			return err
		}
		set := map[string]any{rosterv1.BreakGlassAnnotation: nil}
		listed, err := strconv.ParseUint(slices.ResourceVersion, 10, 64)
		if cur, _ := watermark(m.Annotations); err == nil && listed > cur {
			set[WatermarkAnnotation] = strconv.FormatUint(listed, 10)
		}
		_, err = s.patchTeam(ctx, team, set, m.ResourceVersion)
		return err
	})
}
