package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestLeaderRunnable: roster_leader is 1 while the manager runs the runnable (on the leader
// only: it needs leader election) and 0 once it stops.
func TestLeaderRunnable(t *testing.T) {
	if !(LeaderRunnable{}).NeedLeaderElection() {
		t.Fatal("the leader gauge must run on the leader only")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- LeaderRunnable{}.Start(ctx) }()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return testutil.ToFloat64(Leader) == 1, nil
	}); err != nil {
		t.Fatal("roster_leader never became 1 on the leader")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := testutil.ToFloat64(Leader); v != 0 {
		t.Fatalf("roster_leader = %v after the leader stopped, want 0", v)
	}
}
