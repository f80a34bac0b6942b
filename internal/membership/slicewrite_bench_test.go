package membership_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/membership"
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
	team := &rosterv1.OrgTeam{Spec: rosterv1.OrgTeamSpec{DisplayName: "Eng", ManagedBy: rosterv1.ManagedBySCIM}}
	team.Name, team.Namespace = "g-bench", org.Namespace
	if err := env.Client.Create(ctx, team); err != nil {
		b.Fatal(err)
	}
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
			start, cpu, apis := time.Now(), selfCPU(), apiserverCPU()
			sl := membership.NewSlice(team, members)
			if err := sides[i].w.Create(ctx, sl); err != nil {
				b.Fatal(err)
			}
			sl.Spec.Members = members[1:]
			if err := sides[i].w.Update(ctx, sl); err != nil {
				b.Fatal(err)
			}
			sides[i].spent += time.Since(start)
			sides[i].cpu += selfCPU() - cpu
			sides[i].apis += apiserverCPU() - apis
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

// selfCPU is the CPU time of this process so far (the client side of the writes, and
// whatever else the test binary runs).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// apiserverCPU is the CPU time so far of the kube-apiserver this test started (a child
// process), from /proc/<pid>/stat in USER_HZ (100) ticks; 0 if there is none.
func apiserverCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(raw)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || !strings.Contains(s[:end], "(kube-apiserver") {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) < 13 || f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		return time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return 0
}

// clientWriter writes slices with the test's direct client, as Store does without SliceWrites.
type clientWriter struct{}

func (clientWriter) Create(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return env.Client.Create(ctx, sl)
}

func (clientWriter) Update(ctx context.Context, sl *rosterv1.OrgTeamMemberSlice) error {
	return env.Client.Update(ctx, sl)
}
