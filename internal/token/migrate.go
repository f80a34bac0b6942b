package token

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Moved says what Migrate did for one organization.
type Moved struct {
	Org string
	// From and To are the Secrets' namespace/name.
	From, To string
	// Copied: the hash was written to To (false when To already held the same or a newer
	// token). Deleted: From was deleted.
	Copied, Deleted bool
}

// Migrate moves every organization's token Secret from where earlier installs kept it (the
// organization's namespace, LegacySecretKey) to Roster's namespace, keeping the token: the
// hash, a previous hash still in its grace period, and the rotation time are copied as they
// are. A Secret that the new place already holds with the same or a later rotation is not
// overwritten (a rotation after the copy wins). With keepOld the old Secrets stay (copy before
// upgrading, so the old version keeps authenticating until the new one runs); without, each
// is deleted once its copy is in place, carrying the resourceVersion it was copied from.
//
// It runs with the caller's credentials — a platform admin's: the manager has no access to
// Secrets outside its namespace, by design.
func Migrate(ctx context.Context, c client.Client, namespace string, keepOld bool) ([]Moved, error) {
	var orgs rosterv1.OrganizationList
	if err := c.List(ctx, &orgs); err != nil {
		return nil, fmt.Errorf("listing organizations: %w", err)
	}
	var out []Moved
	for i := range orgs.Items {
		org := &orgs.Items[i]
		from, to := LegacySecretKey(org), SecretKey(namespace, org.Name)
		var old corev1.Secret
		if err := c.Get(ctx, from, &old); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return out, fmt.Errorf("reading %s: %w", from, err)
		}
		if !Configured(&old) {
			continue // not a token Secret (or an empty one): nothing to carry over
		}
		m := Moved{Org: org.Name, From: from.String(), To: to.String()}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			m.Copied = false
			return upsert(ctx, c, to, func(secret *corev1.Secret) {
				if Configured(secret) && !olderThan(secret, &old) {
					return
				}
				for _, k := range []string{HashKey, PreviousHashKey, PreviousExpiresKey} {
					delete(secret.Data, k)
					if v, ok := old.Data[k]; ok {
						secret.Data[k] = v
					}
				}
				delete(secret.Annotations, RotatedAtAnnotation)
				if v, ok := old.Annotations[RotatedAtAnnotation]; ok {
					secret.Annotations[RotatedAtAnnotation] = v
				}
				secret.Labels[SecretLabel] = "true"
				secret.Labels[rosterv1.OrgLabel] = org.Name
				secret.Type = corev1.SecretTypeOpaque
				m.Copied = true
			})
		})
		if err != nil {
			return out, fmt.Errorf("writing %s: %w", to, err)
		}
		if !keepOld {
			rv := old.ResourceVersion
			err := c.Delete(ctx, &old, client.Preconditions{ResourceVersion: &rv})
			switch {
			case apierrors.IsConflict(err):
				return out, fmt.Errorf("%s changed while it was copied (a rotation by the old version?): run the migration again", from)
			case err != nil && !apierrors.IsNotFound(err):
				return out, fmt.Errorf("deleting %s: %w", from, err)
			}
			m.Deleted = err == nil
		}
		out = append(out, m)
	}
	return out, nil
}

// olderThan reports whether secret's token was generated before other's (an unknown time
// counts as older).
func olderThan(secret, other *corev1.Secret) bool {
	a, okA := RotatedAt(secret)
	b, okB := RotatedAt(other)
	if !okB {
		return false
	}
	return !okA || a.Before(b)
}
