package membership

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestVersionMovesWithEveryChange: a change under If-Match bumps the team's revision and
// rewrites a slice (its generation moves by one): over many such steps, no two states share a
// version. With raw FNV sums the two one-digit changes cancelled in the XOR about once in a
// few hundred steps, and a stale If-Match passed.
func TestVersionMovesWithEveryChange(t *testing.T) {
	team := &rosterv1.OrgTeam{}
	seen := map[string]int{}
	for uid := range 20 {
		meta := &metav1.ObjectMeta{UID: types.UID("0b0c7a2e-uid-" + strconv.Itoa(uid)), Generation: 1}
		slices := []sliceStamp{{name: "g-0123456789abcdef0123456789abcdef-x7k2p", generation: 1}}
		for step := range 1000 {
			meta.Annotations = map[string]string{RevisionAnnotation: strconv.Itoa(step)}
			slices[0].generation = int64(step + 1)
			v := newView(team, meta, slices).Version
			key := strconv.Itoa(uid) + "/" + strconv.Itoa(step)
			if _, dup := seen[v]; dup {
				t.Fatalf("state %s has the version of an earlier state", key)
			}
			seen[v] = step
		}
	}
}
