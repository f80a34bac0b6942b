package storeutil

import (
	"errors"
	"slices"
	"testing"

	"github.com/rosterhq/roster/internal/identitystore"
)

func TestMembers(t *testing.T) {
	in := []string{"c", "a", "b", "a", "c"}
	got, err := Members("acme", "team", in)
	if err != nil || !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Members = %q, %v; want sorted and without duplicates", got, err)
	}
	if !slices.Equal(in, []string{"c", "a", "b", "a", "c"}) {
		t.Errorf("Members changed its argument: %q", in)
	}
	for _, tc := range []struct{ org, team string }{{"", "t"}, {"acme", ""}} {
		if _, err := Members(tc.org, tc.team, nil); !errors.Is(err, identitystore.ErrInvalid) {
			t.Errorf("Members(%q, %q) error = %v, want ErrInvalid", tc.org, tc.team, err)
		}
	}
	if _, err := Members("acme", "t", []string{"a", ""}); !errors.Is(err, identitystore.ErrInvalid) {
		t.Errorf("empty user id: error = %v, want ErrInvalid", err)
	}
}

func TestNowRoundTripsAtMicroseconds(t *testing.T) {
	n := Now()
	if n.Location().String() != "UTC" || n.Nanosecond()%1000 != 0 {
		t.Fatalf("Now() = %v, want UTC with whole microseconds", n)
	}
}
