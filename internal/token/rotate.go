package token

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// DefaultSecretName is the token Secret's name when an Organization does not set one.
const DefaultSecretName = "scim-token"

// SecretKey returns where an organization's token Secret lives.
func SecretKey(org *rosterv1.Organization) types.NamespacedName {
	name := org.Spec.TokenSecretName
	if name == "" {
		name = DefaultSecretName
	}
	return types.NamespacedName{Namespace: org.Spec.Namespace, Name: name}
}

// Rotate generates a new token for the named organization, stores only its hash in the
// organization's Secret (creating it if needed) and returns the plaintext, which is then
// gone for good. The namespace must exist.
func Rotate(ctx context.Context, c client.Client, orgName string, grace time.Duration) (string, error) {
	var org rosterv1.Organization
	if err := c.Get(ctx, types.NamespacedName{Name: orgName}, &org); err != nil {
		return "", fmt.Errorf("reading organization %q: %w", orgName, err)
	}
	plaintext, hash := Generate()
	key := SecretKey(&org)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var secret corev1.Secret
		err := c.Get(ctx, key, &secret)
		switch {
		case apierrors.IsNotFound(err):
			secret = corev1.Secret{}
			secret.Name, secret.Namespace = key.Name, key.Namespace
			Apply(&secret, hash, grace, time.Now())
			secret.Labels[rosterv1.OrgLabel] = org.Name
			return c.Create(ctx, &secret)
		case err != nil:
			return err
		}
		Apply(&secret, hash, grace, time.Now())
		secret.Labels[rosterv1.OrgLabel] = org.Name
		return c.Update(ctx, &secret)
	})
	if err != nil {
		// The error never contains the token or its hash: only the Secret's coordinates.
		return "", fmt.Errorf("writing token Secret %s: %w", key, err)
	}
	return plaintext, nil
}
