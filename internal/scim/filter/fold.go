package filter

import (
	"cmp"
	"unicode/utf8"
)

// maxFoldInPlace bounds the values compareFolded compares: its co is a plain search, quadratic
// in the worst case; a longer value is folded and searched as before.
const maxFoldInPlace = 256

// ascii reports whether s is all ASCII: its fold (naming.Fold, strings.ToLower) changes
// A-Z only.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lower is c with A-Z folded.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// compareFolded is CompareString's comparison of naming.Fold(a) with b, b folded already and
// a ASCII, folding a byte by byte as it reads it instead of allocating its folded copy: a full
// scan compares 100,000 values (a title, a department) that mostly have upper case letters.
// The comparisons are of bytes, as strings.Contains, HasPrefix, HasSuffix and Compare are.
func compareFolded(a string, op CompareOp, b string) bool {
	switch op {
	case Co:
		for i := 0; i+len(b) <= len(a); i++ {
			if hasFoldedPrefix(a[i:], b) {
				return true
			}
		}
		return false
	case Sw:
		return hasFoldedPrefix(a, b)
	case Ew:
		return len(a) >= len(b) && hasFoldedPrefix(a[len(a)-len(b):], b)
	}
	n := min(len(a), len(b))
	for i := range n {
		if c := cmp.Compare(lower(a[i]), b[i]); c != 0 {
			return ordered(op, c)
		}
	}
	return ordered(op, cmp.Compare(len(a), len(b)))
}

// hasFoldedPrefix reports whether a, folded, starts with b.
func hasFoldedPrefix(a, b string) bool {
	if len(a) < len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(a[i]) != b[i] {
			return false
		}
	}
	return true
}
