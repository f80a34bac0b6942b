package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond every 20 ms until it holds, and fails the test with cond's last
// message once timeout has passed. It is for a test's final assertions, which wait for the
// controllers and caches to converge — never for synchronising the steps a test checks.
func Eventually(t testing.TB, timeout time.Duration, cond func() (ok bool, msg string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
