package reconcileerr

import (
	"errors"
	"fmt"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestReasonAndResult(t *testing.T) {
	cause := errors.New("connection refused")
	for _, tc := range []struct {
		name         string
		err          error
		wantReason   string
		wantTerminal bool
	}{
		{"plain", cause, "Fallback", false},
		{"retryable", New("StoreUnavailable", cause), "StoreUnavailable", false},
		{"wrapped retryable", fmt.Errorf("syncing: %w", New("StoreConflict", cause)), "StoreConflict", false},
		{"stalling", NewStalling("StoreRejected", cause), "StoreRejected", true},
		{"wrapped stalling", fmt.Errorf("syncing: %w", NewStalling("StoreRejected", cause)), "StoreRejected", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Reason(tc.err, "Fallback"); got != tc.wantReason {
				t.Errorf("Reason = %q, want %q", got, tc.wantReason)
			}
			res := Result(tc.err)
			if got := errors.Is(res, reconcile.TerminalError(nil)); got != tc.wantTerminal {
				t.Errorf("terminal = %v, want %v", got, tc.wantTerminal)
			}
			if !errors.Is(res, cause) {
				t.Errorf("Result(%v) lost the cause", tc.err)
			}
		})
	}
	if New("X", nil) != nil || NewStalling("X", nil) != nil || Result(nil) != nil {
		t.Error("nil errors must stay nil")
	}
}
