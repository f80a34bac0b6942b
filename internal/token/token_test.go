package token

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestGenerateAndValid(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, hash := Generate()
	if !strings.HasPrefix(tok, prefix) || len(tok) < 40 {
		t.Fatalf("token %q looks weak", tok)
	}
	if strings.Contains(hash, tok) || hash != Hash(tok) {
		t.Fatal("hash must be derived from, and not contain, the token")
	}
	other, _ := Generate()
	if other == tok {
		t.Fatal("two tokens must differ")
	}
	var s corev1.Secret
	Apply(&s, hash, 0, now)
	if !Configured(&s) || !Valid(&s, tok, now) {
		t.Fatal("fresh token must be valid")
	}
	for _, bad := range []string{"", other, tok + "x", strings.ToUpper(tok), hash} {
		if Valid(&s, bad, now) {
			t.Errorf("%q must not be valid", bad)
		}
	}
	if at, ok := RotatedAt(&s); !ok || !at.Equal(now) {
		t.Errorf("rotated-at = %v %v", at, ok)
	}
	for _, v := range s.Data {
		if strings.Contains(string(v), tok) {
			t.Fatal("plaintext stored in the Secret")
		}
	}
}

func TestRotationGrace(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	old, oldHash := Generate()
	var s corev1.Secret
	Apply(&s, oldHash, 0, now)

	// Without grace the old token stops working at once.
	n1, h1 := Generate()
	Apply(&s, h1, 0, now)
	if Valid(&s, old, now) || !Valid(&s, n1, now) {
		t.Fatal("rotation without grace must invalidate the old token immediately")
	}

	// With grace both work until the grace period ends.
	n2, h2 := Generate()
	Apply(&s, h2, time.Hour, now)
	if !Valid(&s, n1, now.Add(59*time.Minute)) || !Valid(&s, n2, now) {
		t.Fatal("old and new token must both work during the grace period")
	}
	if Valid(&s, n1, now.Add(time.Hour)) {
		t.Fatal("old token must stop at the end of the grace period")
	}
	// A second rotation drops the grace token of the first.
	_, h3 := Generate()
	Apply(&s, h3, 0, now)
	if Valid(&s, n1, now) || Valid(&s, n2, now) {
		t.Fatal("only the newest token may work after a rotation without grace")
	}
}

func TestValidNilSecret(t *testing.T) {
	if Valid(nil, "x", time.Now()) || Configured(nil) || Configured(&corev1.Secret{}) {
		t.Fatal("no secret, no access")
	}
}
