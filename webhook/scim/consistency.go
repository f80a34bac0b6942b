package scim

import (
	"context"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cacheWaitTimeout bounds how long a write waits for this replica's cache to catch up. Past
// it the write has still succeeded; only read-your-writes on this replica is delayed.
const cacheWaitTimeout = 2 * time.Second

// awaitCache waits until this replica's cache reflects a write, so that the identity
// provider's next request on this replica (Okta reads a user right after changing it) sees
// it. gone=true waits for the object to disappear (or be terminating); otherwise for the
// cached copy to reach the resourceVersion obj got from the write.
func (s *Server) awaitCache(ctx context.Context, obj client.Object, gone bool) {
	key := client.ObjectKeyFromObject(obj)
	want := obj.GetResourceVersion()
	cached := obj.DeepCopyObject().(client.Object)
	ctx, cancel := context.WithTimeout(ctx, cacheWaitTimeout)
	defer cancel()
	_ = wait.PollUntilContextCancel(ctx, time.Millisecond, true, func(ctx context.Context) (bool, error) {
		err := s.opts.Client.Get(ctx, key, cached)
		if gone {
			return apierrors.IsNotFound(err) || (err == nil && cached.GetDeletionTimestamp() != nil), nil
		}
		return err == nil && versionReached(cached.GetResourceVersion(), want), nil
	})
}

// versionReached reports whether a cached resourceVersion is at or past want. Versions are
// etcd revisions, so they compare as numbers; anything else compares for equality only.
func versionReached(got, want string) bool {
	g, err1 := strconv.ParseUint(got, 10, 64)
	w, err2 := strconv.ParseUint(want, 10, 64)
	if err1 != nil || err2 != nil {
		return got == want
	}
	return g >= w
}
