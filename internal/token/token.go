// Package token generates SCIM bearer tokens and checks presented tokens against the hashes
// kept in an organization's token Secret, in Roster's own namespace (rotate.go says why). The
// plaintext exists only in the output of a rotation; the Secret holds a SHA-256 hash, which is
// safe for 256-bit random tokens (a slow password hash buys nothing against a secret that
// cannot be guessed).
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the token Secret and the labels that let the manager cache only token Secrets.
const (
	// HashKey holds "sha256:<hex>" of the current token.
	HashKey = "token-hash"
	// PreviousHashKey holds the hash of the token replaced by the last rotation, valid until
	// PreviousExpiresKey (RFC 3339) when the rotation gave a grace period.
	PreviousHashKey    = "previous-token-hash"
	PreviousExpiresKey = "previous-token-expires-at"
	// RotatedAtAnnotation records when the token was generated (RFC 3339).
	RotatedAtAnnotation = "scim.roster.dev/token-rotated-at"
	// SecretLabel marks token Secrets; the manager caches only Secrets with this label.
	SecretLabel = "scim.roster.dev/token"

	prefix    = "roster_"
	hashAlgo  = "sha256:"
	entropyBy = 32
)

// Generate returns a new random token and its hash.
func Generate() (plaintext, hash string) {
	var b [entropyBy]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	plaintext = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return plaintext, Hash(plaintext)
}

// Hash returns the stored form of a token.
func Hash(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hashAlgo + hex.EncodeToString(sum[:])
}

// Valid reports whether presented matches the Secret's current token, or its previous token
// while the grace period of the last rotation lasts. Comparisons take constant time.
func Valid(secret *corev1.Secret, presented string, now time.Time) bool {
	if secret == nil || presented == "" {
		return false
	}
	got := []byte(Hash(presented))
	ok := equal(got, secret.Data[HashKey])
	if prev := secret.Data[PreviousHashKey]; len(prev) > 0 {
		exp, err := time.Parse(time.RFC3339, string(secret.Data[PreviousExpiresKey]))
		// Evaluate both comparisons regardless, so timing does not reveal which one matched.
		okPrev := equal(got, prev)
		ok = ok || (okPrev && err == nil && now.Before(exp))
	}
	return ok
}

func equal(a, b []byte) bool {
	return len(b) > 0 && subtle.ConstantTimeCompare(a, b) == 1
}

// Configured reports whether the Secret holds a token hash.
func Configured(secret *corev1.Secret) bool {
	return secret != nil && strings.HasPrefix(string(secret.Data[HashKey]), hashAlgo)
}

// RotatedAt returns when the Secret's token was generated, if recorded.
func RotatedAt(secret *corev1.Secret) (time.Time, bool) {
	if secret == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, secret.Annotations[RotatedAtAnnotation])
	return t, err == nil
}

// Apply writes a new token hash into secret (creating maps as needed). With grace > 0 the
// replaced token stays valid until now+grace; without, it stops working at once.
func Apply(secret *corev1.Secret, newHash string, grace time.Duration, now time.Time) {
	ensureMaps(secret)
	old := secret.Data[HashKey]
	delete(secret.Data, PreviousHashKey)
	delete(secret.Data, PreviousExpiresKey)
	if grace > 0 && len(old) > 0 {
		secret.Data[PreviousHashKey] = old
		secret.Data[PreviousExpiresKey] = []byte(now.Add(grace).UTC().Format(time.RFC3339))
	}
	secret.Data[HashKey] = []byte(newHash)
	secret.Annotations[RotatedAtAnnotation] = now.UTC().Format(time.RFC3339)
	secret.Labels[SecretLabel] = "true"
	secret.Type = corev1.SecretTypeOpaque
}
