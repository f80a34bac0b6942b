package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster/internal/identitystore"
)

// Channel is the NOTIFY channel the schema's triggers announce membership
// changes on.
const Channel = "roster_team_members"

// Watch implements identitystore.Notifier. It holds one connection of its own
// (outside the pool) that LISTENs on Channel. When that connection breaks,
// Watch reconnects with back-off and then sends a Change for all teams,
// because notifications sent meanwhile are lost. The channel is closed when
// ctx is done or the store is closed.
func (s *Store) Watch(ctx context.Context) (<-chan identitystore.Change, error) {
	conn, err := s.listen(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.done, cancel)
	ch := make(chan identitystore.Change, 64)
	go func() {
		defer close(ch)
		defer cancel()
		defer stop()
		s.watch(ctx, conn, ch)
	}()
	return ch, nil
}

func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, wrap(err, "watch: connect")
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		closeConn(conn)
		return nil, wrap(err, "watch: listen")
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

func (s *Store) watch(ctx context.Context, conn *pgx.Conn, ch chan<- identitystore.Change) {
	for conn != nil {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			if !send(ctx, ch, parsePayload(n.Payload)) {
				break
			}
			continue
		}
		closeConn(conn)
		if conn = s.reconnect(ctx); conn != nil && !send(ctx, ch, identitystore.Change{}) {
			break
		}
	}
	if conn != nil {
		closeConn(conn)
	}
}

// reconnect retries listen until it succeeds or ctx is done (then nil).
func (s *Store) reconnect(ctx context.Context) *pgx.Conn {
	backoff := 100 * time.Millisecond
	for {
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if conn, err := s.listen(ctx); err == nil {
			return conn
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func send(ctx context.Context, ch chan<- identitystore.Change, c identitystore.Change) bool {
	select {
	case ch <- c:
		return true
	case <-ctx.Done():
		return false
	}
}

// parsePayload reads the trigger's {"org": ..., "team_id": ...}. Anything
// else, including the empty payload sent after TRUNCATE, means all teams.
func parsePayload(payload string) identitystore.Change {
	var p struct {
		Org    string `json:"org"`
		TeamID string `json:"team_id"`
	}
	if json.Unmarshal([]byte(payload), &p) != nil || p.Org == "" || p.TeamID == "" {
		return identitystore.Change{}
	}
	return identitystore.Change{Org: p.Org, TeamID: p.TeamID}
}
