package shard

import "context"

// TryTurn and EndTurn expose the Watcher's turn taking to the tests.
func (w *Watcher) TryTurn(ctx context.Context) (bool, error) { return w.tryTurn(ctx) }
func (w *Watcher) EndTurn(ctx context.Context) error         { return w.endTurn(ctx) }
