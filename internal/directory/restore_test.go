package directory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// TestRestoredWatermark: a team restored from another cluster's backup carries that etcd's
// watermark, far above every revision here. Member changes must not wait for it (each such
// wait times out, counted in roster_cache_wait_timeouts_total), and the first one replaces it
// with a watermark of this cluster. The changes come once the team is restored as both the
// apiserver and this replica's cache hold it, as they do after a restore.
func TestRestoredWatermark(t *testing.T) {
	ctx := context.Background()
	o := env.NewOrg(t, "restore")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	r := env.StartRoster(t, nil)
	d := r.Directory
	yes := true
	var ids []string
	for _, name := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		u, err := d.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: name, Active: &yes})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.Name)
	}
	team, err := d.CreateTeam(ctx, org, "Restored", "", ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: o.Namespace, Name: team.Name}
	// What a restore leaves: the old cluster's watermark, beyond this etcd's revisions.
	var live v1alpha1.OrgTeam
	if err := env.Client.Get(ctx, key, &live); err != nil {
		t.Fatal(err)
	}
	own, _ := strconv.ParseUint(live.ResourceVersion, 10, 64)
	stale := strconv.FormatUint(own+1_000_000, 10)
	body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{membership.WatermarkAnnotation: stale}}})
	if err := env.Client.Patch(ctx, &live, client.RawPatch(types.MergePatchType, body)); err != nil {
		t.Fatal(err)
	}
	// The premise, as the apiserver answered the patch: the team now carries a watermark above
	// its own resourceVersion (what a fence must not wait for). Without it there is nothing for
	// the changes to ignore, and the assertions below would hold for any fence.
	if rv, _ := strconv.ParseUint(live.ResourceVersion, 10, 64); live.Annotations[membership.WatermarkAnnotation] != stale || rv == 0 || rv >= own+1_000_000 {
		t.Fatalf("after the restore the team holds watermark %q at resourceVersion %s, want %s above it",
			live.Annotations[membership.WatermarkAnnotation], live.ResourceVersion, stale)
	}
	// After a restore Roster starts on the restored objects: its cache holds the team as
	// restored before any change arrives. (A change sent before the cache got there would not
	// notice a fence that takes the watermark from the cache.)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		var cached v1alpha1.OrgTeam
		err := r.Manager.GetCache().Get(ctx, key, &cached)
		return err == nil && cached.Annotations[membership.WatermarkAnnotation] == stale,
			fmt.Sprintf("the cache holds the team with watermark %q (%v), want the restored %s", cached.Annotations[membership.WatermarkAnnotation], err, stale)
	})

	timeouts := metrics.CacheWaitTimeouts.WithLabelValues("OrgTeamMemberSlice")
	before := testutil.ToFloat64(timeouts)
	for _, id := range ids[1:] {
		if _, err := d.UpdateTeam(ctx, o.Namespace, team.Name, nil, directory.TeamChange{
			Members: []patch.MemberOp{{Kind: patch.MemberAdd, Values: []string{id}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(timeouts) - before; got != 0 {
		t.Errorf("%v fences waited for the restored watermark until they timed out, want none", got)
	}
	if err := env.Client.Get(ctx, key, &live); err != nil {
		t.Fatal(err)
	}
	wm, _ := strconv.ParseUint(live.Annotations[membership.WatermarkAnnotation], 10, 64)
	rv, _ := strconv.ParseUint(live.ResourceVersion, 10, 64)
	if live.Annotations[membership.WatermarkAnnotation] == stale || wm == 0 || wm >= rv {
		t.Errorf("watermark after the changes is %q (team at resourceVersion %d), want one of this cluster, below it",
			live.Annotations[membership.WatermarkAnnotation], rv)
	}
	members, err := d.Members(ctx, &live)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != len(ids) {
		t.Errorf("members %v, want %v", members, ids)
	}
}
