package directory_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// TestRestoredWatermark: a team restored from another cluster's backup carries that etcd's
// watermark, far above every revision here. Member changes must not wait for it (each such
// wait times out, counted in roster_cache_wait_timeouts_total), and the first one replaces it
// with a watermark of this cluster.
func TestRestoredWatermark(t *testing.T) {
	ctx := context.Background()
	o := env.NewOrg(t, "restore")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	d := env.StartRoster(t, nil).Directory
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
