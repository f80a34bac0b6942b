package jsonscan

import "testing"

func TestSpaceAndEat(t *testing.T) {
	s := Scanner{B: []byte(" \t\r\n{ x")}
	s.Space()
	if s.I != 4 {
		t.Fatalf("Space stopped at %d, want 4", s.I)
	}
	if s.Eat('[') || s.I != 4 {
		t.Fatalf("Eat of another byte moved to %d", s.I)
	}
	if !s.Eat('{') || s.I != 5 {
		t.Fatalf("Eat('{') at %d", s.I)
	}
	s.Space()
	if !s.Eat('x') || s.Eat('y') || s.I != len(s.B) {
		t.Fatalf("at the end: %d of %d", s.I, len(s.B))
	}
	s.Space() // at the end: nothing to read, no panic
}
