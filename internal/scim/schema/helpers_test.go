package schema

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

// obj decodes a JSON object literal, failing the test on bad JSON.
func obj(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// sameJSON compares two documents as JSON values.
func sameJSON(t testing.TB, got map[string]any, want string) {
	t.Helper()
	w := obj(t, want)
	// Round-trip got through JSON so numbers and types compare like decoded JSON.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var g map[string]any
	_ = json.Unmarshal(b, &g)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", b, mustJSON(w))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// wantSCIMError checks err is a 400 *scimerror.Error with the given scimType.
func wantSCIMError(t testing.TB, err error, typ scimerror.ScimType) {
	t.Helper()
	e, ok := scimerror.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *scimerror.Error", err, err)
	}
	if e.Status != 400 || e.ScimType != typ {
		t.Fatalf("error = %v, want 400 %s", e, typ)
	}
}
