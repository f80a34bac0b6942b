package scim

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAnnounced: a body is read whole, as io.ReadAll reads it, whatever its announced
// length; one announced past bodyProbe ends up in one buffer of that length.
func TestReadAnnounced(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), (3*bodyProbe)/16+5) // past the probe, not a multiple of it
	for _, tc := range []struct {
		name      string
		announced int64
		body      []byte
	}{
		{"small", 100, body[:100]},
		{"unknown length", -1, body},
		{"at the probe", bodyProbe, body[:bodyProbe]},
		{"large", int64(len(body)), body},
		{"large, ends before the probe", int64(len(body)), body[:bodyProbe/2]},
		{"large, ends after the probe", int64(len(body)), body[:bodyProbe+10]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read at most for a part of it: the reader's chunks must not matter.
			got, err := readAnnounced(io.MultiReader(iotest.OneByteReader(bytes.NewReader(tc.body[:min(100, len(tc.body))])), bytes.NewReader(tc.body[min(100, len(tc.body)):])), tc.announced)
			if err != nil || !bytes.Equal(got, tc.body) {
				t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, len(tc.body))
			}
			if tc.announced > bodyProbe && len(tc.body) == int(tc.announced) && cap(got) != int(tc.announced)+bytes.MinRead {
				t.Errorf("a body announced and sent whole is in a buffer of %d bytes, want its length and MinRead, %d", cap(got), tc.announced+bytes.MinRead)
			}
		})
	}
	// A failed read is reported, before the probe and after it.
	for _, at := range []int{10, bodyProbe + 10} {
		broken := errors.New("connection reset")
		_, err := readAnnounced(io.MultiReader(bytes.NewReader(body[:at]), iotest.ErrReader(broken)), int64(len(body)))
		if !errors.Is(err, broken) {
			t.Errorf("a read failing after %d bytes: %v, want %v", at, err, broken)
		}
	}
}
