package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/testutil/proccpu"
)

// BenchmarkSliceWrites times full slices (2,000 members, ~75 KB) written to the real
// apiserver, one create and one update per iteration, by the usual client (the apiserver
// answers with the whole object) and by MetadataSliceWriter (it answers with metadata), in
// turns so that load on the machine hits both alike. Besides wall time per write it reports
// CPU per write of this process (the client) and of the kube-apiserver (a shared machine
// stretches wall time, not CPU). Run it as
//
//	go test -run '^$' -bench SliceWrites -benchtime 20x ./internal/membership
func BenchmarkSliceWrites(b *testing.B) {
	ctx := context.Background()
	org := env.NewOrg(b, "slicewrites")
	team := createSCIMTeam(b, org.Namespace, "g-bench")
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	meta, err := membership.NewMetadataSliceWriter(env.Config, hc)
	if err != nil {
		b.Fatal(err)
	}
	sides := []struct {
		name             string
		w                membership.SliceWriter
		spent, cpu, apis time.Duration
	}{{name: "full", w: clientWriter{}}, {name: "metadata", w: meta}}
	members := make([]string, rosterv1.MaxMembersPerSlice)
	for i := range members {
		members[i] = fmt.Sprintf("u-%032x", i)
	}
	n := 0
	for b.Loop() {
		n++
		for i := range sides {
			// /proc is read before the clock starts: its cost belongs to neither side.
			apis, cpu, start := proccpu.Children()["kube-apiserver"], proccpu.Self(), time.Now()
			sl := membership.NewSlice(team, members)
			if err := sides[i].w.Create(ctx, sl); err != nil {
				b.Fatal(err)
			}
			sl.Spec.Members = members[1:]
			if err := sides[i].w.Update(ctx, sl); err != nil {
				b.Fatal(err)
			}
			sides[i].spent += time.Since(start)
			sides[i].cpu += proccpu.Self() - cpu
			sides[i].apis += proccpu.Children()["kube-apiserver"] - apis
		}
	}
	for _, s := range sides {
		b.ReportMetric(float64(s.spent.Microseconds())/float64(2*n)/1000, s.name+"-ms/write")
		b.ReportMetric(float64(s.cpu.Microseconds())/float64(2*n)/1000, s.name+"-client-cpu-ms/write")
		b.ReportMetric(float64(s.apis.Microseconds())/float64(2*n)/1000, s.name+"-apiserver-cpu-ms/write")
	}
	b.ReportMetric(sides[0].spent.Seconds()/sides[1].spent.Seconds(), "full/metadata")
	b.ReportMetric(sides[0].apis.Seconds()/sides[1].apis.Seconds(), "apiserver-cpu-full/metadata")
}

// clientWriter writes slices with the test's direct client, as Store does without SliceWrites.
type clientWriter struct{}

func (clientWriter) Create(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return env.Client.Create(ctx, sl)
}

func (clientWriter) Update(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return env.Client.Update(ctx, sl)
}
