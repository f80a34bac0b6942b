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

// Token Secrets live in Roster's own namespace, one per organization, not in the
// organization's namespace: whoever may write Secrets where a Secret is (the built-in `edit`
// and `admin` roles may, in every namespace they are bound in) could plant the hash of a token
// of their own and speak for the identity provider. Roster's namespace is the platform team's;
// tenants have no rights there, and Roster needs Secrets in that one namespace only.

// DefaultNamespace is Roster's namespace when the manager is not told otherwise
// (--namespace, $POD_NAMESPACE); config/default installs into it.
const DefaultNamespace = "roster-system"

// secretPrefix starts every token Secret's name.
const secretPrefix = "scim-token-"

// SecretName is the name of an organization's token Secret in Roster's namespace. Organization
// names are DNS labels of at most 63 characters (the CRD says so), so the name is always valid.
func SecretName(org string) string { return secretPrefix + org }

// SecretKey returns where an organization's token Secret lives: namespace is Roster's.
func SecretKey(namespace, org string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: SecretName(org)}
}

// ForOrg reports whether secret is org's token Secret: it carries the org's label, so a
// Secret copied under another org's name authenticates nobody.
func ForOrg(secret *corev1.Secret, org string) bool {
	return secret != nil && secret.Labels[rosterv1.OrgLabel] == org && secret.Labels[SecretLabel] == "true"
}

// LegacySecretKey is where installs before the move kept an organization's token Secret: in
// the organization's namespace, named by spec.tokenSecretName (default "scim-token"). Only
// Migrate reads it.
func LegacySecretKey(org *rosterv1.Organization) types.NamespacedName {
	name := org.Spec.TokenSecretName
	if name == "" {
		name = legacySecretName
	}
	return types.NamespacedName{Namespace: org.Spec.Namespace, Name: name}
}

const legacySecretName = "scim-token"

// Rotate generates a new token for the named organization, stores only its hash in the
// organization's Secret in Roster's namespace (creating it if needed) and returns the
// plaintext, which is then gone for good. The namespace must exist.
func Rotate(ctx context.Context, c client.Client, namespace, orgName string, grace time.Duration) (string, error) {
	var org rosterv1.Organization
	if err := c.Get(ctx, types.NamespacedName{Name: orgName}, &org); err != nil {
		return "", fmt.Errorf("reading organization %q: %w", orgName, err)
	}
	plaintext, hash := Generate()
	key := SecretKey(namespace, org.Name)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return upsert(ctx, c, key, func(secret *corev1.Secret) {
			Apply(secret, hash, grace, time.Now())
			secret.Labels[rosterv1.OrgLabel] = org.Name
		})
	})
	if err != nil {
		// The error never contains the token or its hash: only the Secret's coordinates.
		return "", fmt.Errorf("writing token Secret %s: %w", key, err)
	}
	return plaintext, nil
}

// upsert reads the Secret at key, lets change edit it (maps created) and creates or updates it.
func upsert(ctx context.Context, c client.Client, key types.NamespacedName, change func(*corev1.Secret)) error {
	var secret corev1.Secret
	err := c.Get(ctx, key, &secret)
	switch {
	case apierrors.IsNotFound(err):
		secret = corev1.Secret{}
		secret.Name, secret.Namespace = key.Name, key.Namespace
		ensureMaps(&secret)
		change(&secret)
		return c.Create(ctx, &secret)
	case err != nil:
		return err
	}
	ensureMaps(&secret)
	change(&secret)
	return c.Update(ctx, &secret)
}

func ensureMaps(secret *corev1.Secret) {
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	if secret.Labels == nil {
		secret.Labels = map[string]string{}
	}
}
