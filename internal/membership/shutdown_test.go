package membership

import (
	"context"
	"errors"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/scim/patch"
)

// TestAbortRefusesLaterChanges: after Abort, a change — queued or with a precondition —
// fails at once with ErrShuttingDown and writes nothing, and Wait returns.
func TestAbortRefusesLaterChanges(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(newScheme(t)).WithIndex(&rosterv1.OrgTeamMemberSlice{}, index.SliceTeam, index.SliceTeamOf).Build()
	w := &countingWriter{Client: c}
	s := &Store{Cache: c, API: c, Writer: w}
	team := &rosterv1.OrgTeam{}
	team.Name, team.Namespace = "g-1", "org"
	if err := c.Create(context.Background(), team); err != nil {
		t.Fatal(err)
	}
	add := func(cur Set) (Set, []string) {
		return Desired(cur, []patch.MemberOp{{Kind: patch.MemberAdd, Values: []string{"u-1"}}}, nil)
	}
	s.Abort()
	for name, pre := range map[string]Precondition{"queued": nil, "precondition": func(View) error { return nil }} {
		start := time.Now()
		if _, err := s.Change(context.Background(), team, add, pre); !errors.Is(err, ErrShuttingDown) {
			t.Errorf("%s change after Abort: %v, want ErrShuttingDown", name, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s change after Abort took %v, want at once", name, took)
		}
	}
	if n := w.writes.Load(); n != 0 {
		t.Errorf("%d writes after Abort, want none", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Errorf("Wait after Abort: %v", err)
	}
}
