package slimuser

import (
	"testing"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// TestAccessorsDoNotAllocate: what the Organization's counts, the ordered index and the
// controllers read of every cached user costs no allocation, whatever the user holds (a
// packed UID or annotation time is skipped, not formatted).
func TestAccessorsDoNotAllocate(t *testing.T) {
	u := filledUser(t)
	u.UID = "8f1f7a3e-1c2d-4e5f-9a8b-7c6d5e4f3a2b"
	u.Annotations = map[string]string{rosterv1.LastModifiedAnnotation: "2026-01-02T03:04:05.123456Z"}
	u.Spec.Emails[0].Value = u.Spec.UserName
	s := New(u)
	cond := u.Status.Conditions[1].Type
	for name, fn := range map[string]func(){
		"Condition":        func() { s.Condition(cond) },
		"Condition (none)": func() { s.Condition("Nope") },
		"Active":           func() { s.Active() },
		"UserName":         func() { _ = s.UserName() },
		"DisplayName":      func() { _ = s.DisplayName() },
		"ExternalID":       func() { _ = s.ExternalID() },
		"Created":          func() { s.GetCreationTimestamp() },
		"Emails": func() {
			for range s.Emails() {
			}
		},
	} {
		if n := testing.AllocsPerRun(100, fn); n > 0 {
			t.Errorf("%s: %.0f allocations", name, n)
		}
	}
}
