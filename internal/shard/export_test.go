package shard

import (
	"context"

	"k8s.io/apimachinery/pkg/labels"
)

// TryTurn and EndTurn expose the Watcher's turn taking to the tests.
func (w *Watcher) TryTurn(ctx context.Context) (bool, error) { return w.tryTurn(ctx) }
func (w *Watcher) EndTurn(ctx context.Context) error         { return w.endTurn(ctx) }

// New returns a shard of selector that selected orgs (name → namespace) at start.
func New(selector labels.Selector, orgs map[string]string) *Shard {
	return &Shard{selector: selector, orgs: orgs}
}
