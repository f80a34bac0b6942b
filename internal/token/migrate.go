package token

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// Moved says what Migrate did for one organization.
type Moved struct {
	Org string
	// From and To are the Secrets' namespace/name.
	From, To string
	// Copied: the old Secret's token was written to To, which held none. Deleted: From was
	// deleted. Differs: To already held a different token, and neither was touched.
	Copied, Deleted, Differs bool
	// Err is what went wrong for this organization (the others are still migrated).
	Err error
}

// Migrate moves every organization's token Secret from where earlier installs kept it (the
// organization's namespace, LegacySecretKey) to Roster's namespace, keeping the token: its
// hash and rotation time are copied (a previous token's grace period is not).
//
// The old Secrets sit where tenants with the built-in `edit` role may write, so nothing in
// them may ever replace a token Roster already holds: a Secret is copied only to a place that
// holds no token yet. When the new place holds a different token than the old one (a tenant
// planted one after the copy, or a rotation by the old version), both are left alone and the
// organization is reported: rotate its token. With keepOld the old Secrets stay (copy before
// upgrading, so the old version keeps authenticating until the new one runs); without, each
// old Secret is deleted once the new place holds the same token, carrying the
// resourceVersion it was compared at.
//
// It runs with the caller's credentials — a platform admin's: the manager has no access to
// Secrets outside its namespace, by design. A failure for one organization is reported in
// its Moved and does not stop the others; the returned error is for the organization list.
func Migrate(ctx context.Context, c client.Client, namespace string, keepOld bool) ([]Moved, error) {
	var orgs rosterv1.OrganizationList
	if err := c.List(ctx, &orgs); err != nil {
		return nil, fmt.Errorf("listing organizations: %w", err)
	}
	var out []Moved
	for i := range orgs.Items {
		org := &orgs.Items[i]
		from, to := LegacySecretKey(org), SecretKey(namespace, org.Name)
		m := Moved{Org: org.Name, From: from.String(), To: to.String()}
		var old corev1.Secret
		if err := c.Get(ctx, from, &old); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			m.Err = fmt.Errorf("reading %s: %w", from, err)
			out = append(out, m)
			continue
		}
		if !Configured(&old) {
			continue // not a token Secret (or an empty one): nothing to carry over
		}
		m.Err = migrateOne(ctx, c, org.Name, &old, to, keepOld, &m)
		out = append(out, m)
	}
	return out, nil
}

// migrateOne copies old to key unless a token is there already, and deletes old once key
// holds the same token.
func migrateOne(ctx context.Context, c client.Client, org string, old *corev1.Secret, key client.ObjectKey, keepOld bool, m *Moved) error {
	var cur corev1.Secret
	err := c.Get(ctx, key, &cur)
	switch {
	case apierrors.IsNotFound(err):
		cur = corev1.Secret{}
		cur.Namespace, cur.Name = key.Namespace, key.Name
		ensureMaps(&cur)
		copyToken(&cur, old)
		cur.Labels[SecretLabel] = "true"
		cur.Labels[rosterv1.OrgLabel] = org
		cur.Type = corev1.SecretTypeOpaque
		// Create, not update: a token that appeared meanwhile (a rotation) is never overwritten.
		if err := c.Create(ctx, &cur); err != nil {
			return fmt.Errorf("writing %s: %w", key, err)
		}
		m.Copied = true
	case err != nil:
		return fmt.Errorf("reading %s: %w", key, err)
	case !Configured(&cur):
		return fmt.Errorf("%s exists but holds no token hash: run `roster token rotate --org %s`", key, org)
	case !bytes.Equal(cur.Data[HashKey], old.Data[HashKey]):
		m.Differs = true
		return nil
	}
	if keepOld {
		return nil
	}
	rv := old.ResourceVersion
	err = c.Delete(ctx, old, client.Preconditions{ResourceVersion: &rv})
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s/%s changed while it was migrated: run the migration again", old.Namespace, old.Name)
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("deleting %s/%s: %w", old.Namespace, old.Name, err)
	}
	m.Deleted = err == nil
	return nil
}

// copyToken copies the current token of src into dst. A previous token still in its grace
// period is not carried over: its expiry sits in a Secret tenants may write, and a planted
// far-future one would keep a second token alive for good.
func copyToken(dst, src *corev1.Secret) {
	dst.Data[HashKey] = src.Data[HashKey]
	if v, ok := src.Annotations[RotatedAtAnnotation]; ok {
		dst.Annotations[RotatedAtAnnotation] = v
	}
}
