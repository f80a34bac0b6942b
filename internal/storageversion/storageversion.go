// Package storageversion migrates Roster's custom resources to their CRDs' current storage
// version, so that an earlier version can stop being served.
//
// The apiserver writes an object in the storage version of the moment it was written and
// never rewrites it by itself; a CRD's status.storedVersions lists every version objects may
// still be stored in, and a version can leave spec.versions only once it has left
// storedVersions. Migrate rewrites every object unchanged (an update with the object as read:
// the apiserver re-encodes it at the storage version) and then sets storedVersions to the
// storage version alone — what kube-storage-version-migrator does, for one API group.
//
// The rewrite changes no field, so the admission webhook admits it from any identity RBAC
// allows (an update that changes nothing is exempt, webhook/admission), and neither an
// object's generation nor the version SCIM shows (meta.version) moves.
package storageversion

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// pageSize bounds the objects held at once: a member slice can be over 100 KiB.
const pageSize = 100

// storageWait bounds the wait for the apiserver to store a CRD at its new storage version.
const storageWait = 30 * time.Second

// maxConflicts bounds the retries of one object that keeps changing under the rewrite.
const maxConflicts = 5

// Result says what Migrate did with one CRD.
type Result struct {
	CRD     string
	Version string // the storage version, now the only stored version
	// Objects is the number of objects rewritten; 0 with Skipped when storedVersions
	// already held the storage version alone.
	Objects int
	Skipped bool
}

// Migrate rewrites every object of each CRD of group at the CRD's storage version, then
// sets the CRD's status.storedVersions to that version alone. CRDs are handled one at a time,
// in name order, and report is called after each (nil: no report). It stops at the first
// error, which names the CRD and the object; what was done is kept, and running it again is
// safe. A CRD whose storage version changes while it runs is not marked (its objects may
// have been written at the earlier version): the error says so, and the next run finishes.
//
// Before rewriting a CRD's objects it waits until the apiserver's discovery reports the
// storage version in effect (storageVersionHash): the apiserver switches a CRD's storage
// a moment after the CRD changes, and a rewrite before that would store the old version.
func Migrate(ctx context.Context, c client.Client, disc discovery.DiscoveryInterface, group string, report func(Result)) error {
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds); err != nil {
		return fmt.Errorf("list CustomResourceDefinitions: %w", err)
	}
	var names []string
	for _, crd := range crds.Items {
		if crd.Spec.Group == group {
			names = append(names, crd.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no CustomResourceDefinition of group %q: are Roster's CRDs installed?", group)
	}
	slices.Sort(names)
	// Every CRD's storage switch first, then a pause: discovery and the handler that encodes
	// a CRD's objects follow the CRD on their own, and discovery can be ahead — a rewrite
	// through the handler in that moment stores the old version (seen in the test, on the CRD
	// migrated first). The pause is paid once, not per CRD.
	pending := false
	for _, name := range names {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		version, err := storageVersion(&crd)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if slices.Equal(crd.Status.StoredVersions, []string{version}) {
			continue
		}
		if err := awaitStorage(ctx, disc, &crd, version); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		pending = true
	}
	if pending {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(HandlerSettle):
		}
	}
	for _, name := range names {
		r, err := migrateCRD(ctx, c, disc, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if report != nil {
			report(r)
		}
	}
	return nil
}

func migrateCRD(ctx context.Context, c client.Client, disc discovery.DiscoveryInterface, name string) (Result, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
		return Result{}, err
	}
	version, err := storageVersion(&crd)
	if err != nil {
		return Result{}, err
	}
	r := Result{CRD: name, Version: version}
	if slices.Equal(crd.Status.StoredVersions, []string{version}) {
		r.Skipped = true
		return r, nil
	}
	if err := awaitStorage(ctx, disc, &crd, version); err != nil {
		return r, err
	}
	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version, Kind: crd.Spec.Names.ListKind}
	list := &unstructured.UnstructuredList{}
	for {
		list.SetGroupVersionKind(gvk)
		if err := c.List(ctx, list, client.Limit(pageSize), client.Continue(list.GetContinue())); err != nil {
			return r, fmt.Errorf("list at %s: %w", version, err)
		}
		for i := range list.Items {
			if err := rewrite(ctx, c, &list.Items[i]); err != nil {
				return r, err
			}
			r.Objects++
		}
		if list.GetContinue() == "" {
			break
		}
	}

	// Mark the CRD from a fresh read: if its storage version moved meanwhile, objects written
	// since may be at the earlier one. The update carries the read's resourceVersion.
	if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
		return r, err
	}
	if now, err := storageVersion(&crd); err != nil || now != version {
		return r, fmt.Errorf("the storage version changed from %s to %s while objects were rewritten; run the migration again", version, now)
	}
	crd.Status.StoredVersions = []string{version}
	if err := c.Status().Update(ctx, &crd); err != nil {
		return r, fmt.Errorf("set status.storedVersions to [%s]: %w", version, err)
	}
	return r, nil
}

// HandlerSettle is how long Migrate waits, after discovery reports every CRD's new storage
// version, before it rewrites objects: long enough for the apiserver's CRD handlers to follow
// discovery (they do within milliseconds; seconds leave a wide margin on a loaded apiserver).
var HandlerSettle = 3 * time.Second

// storageVersion returns the version of crd marked storage.
func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) (string, error) {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name, nil
		}
	}
	return "", errors.New("no version is marked storage")
}

// awaitStorage waits until discovery reports that the apiserver stores crd's objects at
// version. Discovery answers for one apiserver: with several, each switches on its own, within
// moments of the others (docs/operations.md, "API versions and upgrades").
func awaitStorage(ctx context.Context, disc discovery.DiscoveryInterface, crd *apiextensionsv1.CustomResourceDefinition, version string) error {
	want := storageVersionHash(crd.Spec.Group, version, crd.Spec.Names.Kind)
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, storageWait, true, func(context.Context) (bool, error) {
		resources, err := disc.ServerResourcesForGroupVersion(crd.Spec.Group + "/" + version)
		if err != nil {
			last = err.Error()
			return false, nil // not served yet
		}
		for _, r := range resources.APIResources {
			if r.Name == crd.Spec.Names.Plural {
				last = "storageVersionHash " + r.StorageVersionHash
				return r.StorageVersionHash == want, nil
			}
		}
		last = "not in discovery"
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the apiserver does not store %s at %s yet (discovery: %s; want storageVersionHash %s): %w",
			crd.Spec.Names.Plural, version, last, want, err)
	}
	return nil
}

// storageVersionHash is the apiserver's discovery hash of a storage version
// (k8s.io/apiserver/pkg/endpoints/discovery.StorageVersionHash, not imported for one line).
func storageVersionHash(group, version, kind string) string {
	sum := sha256.Sum256([]byte(group + "/" + version + "/" + kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// rewrite updates obj with itself, so the apiserver stores it again at the storage version.
// An object that changed since it was listed is read again (a write since then stored it at
// the storage version already, but the read is cheap and the rule simple); one deleted since
// needs nothing.
func rewrite(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	for attempt := 0; ; attempt++ {
		err := c.Update(ctx, obj)
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt == maxConflicts:
			return fmt.Errorf("rewrite %s %s: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("read %s %s again: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err)
		}
	}
}
