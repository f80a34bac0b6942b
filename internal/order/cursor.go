package order

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// A cursor (RFC 9865) is an opaque string that every replica can read without shared state:
// the position of the last entry a page returned (or of the first, for a previous page) — never
// an offset, so entries created or deleted meanwhile neither repeat nor shift the next page —
// the order, a digest of the query it belongs to, its issue time, and a MAC over all of it with
// a key every replica derives the same (the caller's: Roster derives it from the organization's
// UID, so a cursor is also refused by every other organization).
//
// Layout before base64url: version(1) flags(1) sort(1) issued(varint) query(8) created(varint)
// len(value)(uvarint) value len(name)(uvarint) name mac(16).

// Cursor errors. The SCIM server answers both 400, scimType invalidCursor or expiredCursor.
var (
	// ErrInvalidCursor: not a cursor this service issued for this query and organization.
	ErrInvalidCursor = errors.New("the cursor is not valid for this query: send the nextCursor or previousCursor of a previous page of the same query, or an empty cursor for the first page")
	// ErrExpiredCursor: a cursor older than the codec's timeout.
	ErrExpiredCursor = errors.New("the cursor has expired: start again with an empty cursor")
)

const (
	cursorVersion = 1
	macSize       = 16
	// MaxCursorLength bounds the cursors Decode reads; every cursor Encode makes is shorter
	// (object names are at most 253 bytes and indexed values are bounded by the API).
	MaxCursorLength = 4096
	// skew is how far in the future an issue time may be: replicas' clocks differ a little.
	skew = time.Minute
)

// Cursor is a decoded cursor.
type Cursor struct {
	// Key is the position; Before makes it a previous-page cursor (the page ends before Key).
	Key    Key
	Before bool
	// Sort is the order Key is a position in.
	Sort Sort
	// Issued is when the cursor was made (seconds).
	Issued time.Time
}

// Codec encodes and decodes cursors.
type Codec struct {
	// Secret keys the MAC: the same on every replica, different per organization.
	Secret []byte
	// Timeout is how long a cursor stays valid (RFC 9865 cursorTimeout).
	Timeout time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (c Codec) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// queryDigest identifies a query: a cursor replayed against another one is refused.
func queryDigest(query string) []byte {
	sum := sha256.Sum256([]byte(query))
	return sum[:8]
}

func (c Codec) mac(b []byte) []byte {
	h := hmac.New(sha256.New, c.Secret)
	h.Write(b)
	return h.Sum(nil)[:macSize]
}

// Encode returns the cursor for cur in query (a canonical description of the request: type,
// filter, sortBy, sortOrder). Issued is set from the clock.
func (c Codec) Encode(query string, cur Cursor) string {
	b := []byte{cursorVersion, 0, byte(cur.Sort)}
	if cur.Before {
		b[1] = 1
	}
	b = binary.AppendVarint(b, c.now().Unix())
	b = append(b, queryDigest(query)...)
	b = binary.AppendVarint(b, cur.Key.Created)
	b = binary.AppendUvarint(b, uint64(len(cur.Key.Value)))
	b = append(b, cur.Key.Value...)
	b = binary.AppendUvarint(b, uint64(len(cur.Key.Name)))
	b = append(b, cur.Key.Name...)
	b = append(b, c.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a cursor issued for query. Anything Encode did not make with this codec's
// secret for this query is ErrInvalidCursor; a cursor older than Timeout is ErrExpiredCursor.
func (c Codec) Decode(s, query string) (Cursor, error) {
	var cur Cursor
	if len(s) > MaxCursorLength {
		return cur, ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 3+8+macSize {
		return cur, ErrInvalidCursor
	}
	body, tag := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(tag, c.mac(body)) {
		return cur, ErrInvalidCursor
	}
	// Authentic from here on: the fields were written by Encode, but are still read with care.
	r := reader{b: body}
	version, flags, sort := r.byte(), r.byte(), Sort(r.byte())
	issued := r.varint()
	digest := r.bytes(8)
	cur.Key.Created = r.varint()
	cur.Key.Value = string(r.bytes(int(r.uvarint())))
	cur.Key.Name = string(r.bytes(int(r.uvarint())))
	if r.bad || len(r.b) != 0 || version != cursorVersion || flags > 1 || sort >= numSorts ||
		!hmac.Equal(digest, queryDigest(query)) {
		return Cursor{}, ErrInvalidCursor
	}
	cur.Before, cur.Sort, cur.Issued = flags == 1, sort, time.Unix(issued, 0)
	now := c.now()
	switch {
	case cur.Issued.After(now.Add(skew)):
		return Cursor{}, ErrInvalidCursor
	case c.Timeout > 0 && now.Sub(cur.Issued) > c.Timeout:
		return Cursor{}, ErrExpiredCursor
	}
	return cur, nil
}

// reader reads the fields of a cursor; a short or malformed input sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)) {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}
