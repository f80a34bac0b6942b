// Package jsonscan is the cursor the hand-written JSON readers share (document.DecodeExcept's
// key finder, patch.DocumentMemberIDs' member reader): bytes and a position, white space and
// single delimiters. Why by hand: those readers pick a few values out of bodies of up to
// 100,000 members without decoding the rest into maps; each adds its own rules on top (one
// lenient, checking brackets only, one strict, accepting only valid JSON).
package jsonscan

// Scanner is a position in JSON bytes.
type Scanner struct {
	// B is the JSON; I the position of the next byte to read.
	B []byte
	I int
}

// Space moves past white space.
func (s *Scanner) Space() {
	for s.I < len(s.B) {
		switch s.B[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Eat moves past c if it is the next byte, and reports whether it was.
func (s *Scanner) Eat(c byte) bool {
	if s.I < len(s.B) && s.B[s.I] == c {
		s.I++
		return true
	}
	return false
}
