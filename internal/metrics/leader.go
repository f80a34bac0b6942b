package metrics

import "context"

// LeaderRunnable sets Leader to 1 while the manager runs it: add it to a manager, which runs
// it only on the elected leader (it needs leader election) and stops it when the manager
// stops. Leader stays 0 on the other replicas.
type LeaderRunnable struct{}

// Start implements manager.Runnable.
func (LeaderRunnable) Start(ctx context.Context) error {
	Leader.Set(1)
	<-ctx.Done()
	Leader.Set(0)
	return nil
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (LeaderRunnable) NeedLeaderElection() bool { return true }
