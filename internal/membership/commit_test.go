package membership

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// countingWriter counts the writes that reach the (fake) apiserver.
type countingWriter struct {
	client.Client
	writes atomic.Int64
}

func (c *countingWriter) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	c.writes.Add(1)
	return c.Client.Create(ctx, o, opts...)
}

func (c *countingWriter) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	c.writes.Add(1)
	return c.Client.Update(ctx, o, opts...)
}

// TestGroupCommit: many concurrent changes of one team all land, in fewer writes than
// changes, and each caller learns what its own change did.
func TestGroupCommit(t *testing.T) {
	scheme := newScheme(t)
	c := fake.NewClientBuilder().WithScheme(scheme).WithIndex(&rosterv1.OrgTeamMemberSlice{}, index.SliceTeam, index.SliceTeamOf).Build()
	w := &countingWriter{Client: c}
	s := &Store{Cache: c, API: c, Writer: w, Capacity: 30}
	team := &rosterv1.OrgTeam{}
	team.Name, team.Namespace = "g-1", "org"
	team.Labels = map[string]string{rosterv1.OrgLabel: "org"}
	if err := c.Create(context.Background(), team); err != nil {
		t.Fatal(err)
	}

	const n = 100
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("u-%03d", i)
			results[i], errs[i] = s.Change(context.Background(), team, func(cur Set) (Set, []string) {
				return Desired(cur, []patch.MemberOp{{Kind: patch.MemberAdd, Values: []string{id, "ghost"}}}, func(x string) bool { return x != "ghost" })
			}, nil)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("change %d: %v", i, errs[i])
		}
		if results[i].Added != 1 || len(results[i].Unresolved) != 1 {
			t.Fatalf("change %d: %+v", i, results[i])
		}
	}
	sl, err := s.Slices(context.Background(), team)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(Members(sl)); got != n {
		t.Fatalf("%d members, want %d", got, n)
	}
	for _, x := range sl {
		if len(x.Spec.Members) > 30 {
			t.Fatalf("slice over capacity: %d", len(x.Spec.Members))
		}
	}
	if writes := w.writes.Load(); writes >= n {
		t.Fatalf("%d writes for %d changes: no group commit", writes, n)
	}
	t.Logf("%d changes, %d writes", n, w.writes.Load())
}

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := rosterv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
