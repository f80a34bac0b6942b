package scim

import "time"

// SetMemberBudget sets the most member refs of s's /Groups list pages (defaultMemberBudget),
// so that tests reach it with few users.
func SetMemberBudget(s *Server, n int) { s.memberBudget = n }

// SetBulkBudget sets how long s's bulk requests run operations (bulkTimeBudget), so that
// tests reach it in seconds.
func SetBulkBudget(s *Server, d time.Duration) { s.bulkBudget = d }

// SkewCursorClock moves the clock that issues and checks cursors by d, until the returned
// func restores it.
func SkewCursorClock(d time.Duration) (restore func()) {
	old := cursorSkew.Swap(int64(d))
	return func() { cursorSkew.Store(old) }
}
