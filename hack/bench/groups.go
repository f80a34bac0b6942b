package main

import (
	"context"
	"errors"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func clientInNamespace(ns string) client.ListOption { return client.InNamespace(ns) }

// groups is filled in with the Groups work.
func (b *bench) groups(ctx context.Context) error {
	return errors.New("groups scenario not implemented yet")
}
