package scim

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/scim/schema"
)

// A response is streamed: written to the connection as it is encoded, never built whole, so a
// list page or a 100,000-member group costs a small buffer, not the size of the body.
//
// Failures cannot change the status once its first byte is out, so everything that can fail
// happens before it: a list selects its page, reads each resource (for a group its view and
// the slices its members are in, shared with the cache), and encodes each resource's
// document without its members, all before the status line. What is left after it — copying
// encoded bytes, and member ids straight from the slices — cannot fail but for the
// connection, and a broken connection has no status to change. (Rendering each resource into
// a buffer instead would cost the whole of a 100,000-member group in memory.)

// streamBuffer is the write buffer of a streamed response.
const streamBuffer = 32 << 10

// listItem is one resource of a response, ready to write: its document encoded without
// members, and for a group whose members are shown, where they stream from.
type listItem struct {
	head    []byte              // a JSON object
	members *membership.Listing // nil: no members attribute
	fields  memberFields        // the sub-attributes written of each member
	userRef string              // JSON-escaped $ref of a member, up to its id
}

// memberFields are the sub-attributes of a member a response carries (of those Roster
// stores: value, $ref and type; a member has no display), as the projection cuts them
// (excludedAttributes=members.$ref, attributes=members.value).
type memberFields struct{ value, ref, typ bool }

// memberFieldsOf returns the member sub-attributes proj keeps.
func memberFieldsOf(proj schema.Projection) memberFields {
	return memberFields{
		value: proj.KeepsSub("members", "value"),
		ref:   proj.KeepsSub("members", "$ref"),
		typ:   proj.KeepsSub("members", "type"),
	}
}

// any reports whether a member keeps any sub-attribute: one that keeps none is left out, and
// a members attribute with no member left is too (schema.Projection.Apply).
func (f memberFields) any() bool { return f.value || f.ref || f.typ }

// listPage is a ListResponse (RFC 7644 §3.4.2) to stream.
type listPage struct {
	Total int
	// StartIndex is left out when 0 (a cursor-paged response).
	StartIndex int
	Items      []listItem
	// NextCursor and PreviousCursor are written after Resources when not empty (RFC 9865).
	NextCursor, PreviousCursor string
}

// mapItems encodes documents as list items.
func mapItems(docs []map[string]any) ([]listItem, error) {
	items := make([]listItem, len(docs))
	for i, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		items[i] = listItem{head: b}
	}
	return items, nil
}

// writeList answers a list of documents (discovery endpoints) as a ListResponse.
func writeList(c *gin.Context, total, startIndex int, docs []map[string]any) {
	items, err := mapItems(docs)
	if err != nil {
		writeError(c, err)
		return
	}
	writeListPage(c, listPage{Total: total, StartIndex: startIndex, Items: items})
}

// writeListPage streams a ListResponse with status 200 and returns how many resources it
// wrote: all of page.Items unless the connection broke. itemsPerPage is the number of
// resources in the page (RFC 7644 allows fewer than count: see groupPage's member budget).
func writeListPage(c *gin.Context, page listPage) (written int) {
	w := startStream(c, http.StatusOK)
	defer endStream(w)
	w.WriteString(`{"schemas":["` + schema.ListResponseSchema + `"],"totalResults":`)
	w.WriteString(strconv.Itoa(page.Total))
	if page.StartIndex > 0 { // 0: a cursor-paged response, which has none (RFC 9865)
		w.WriteString(`,"startIndex":`)
		w.WriteString(strconv.Itoa(page.StartIndex))
	}
	w.WriteString(`,"itemsPerPage":`)
	w.WriteString(strconv.Itoa(len(page.Items)))
	w.WriteString(`,"Resources":[`)
	for i := range page.Items {
		if i > 0 {
			w.WriteByte(',')
		}
		if writeItem(w, &page.Items[i]) != nil {
			return i
		}
		written = i + 1
	}
	w.WriteByte(']')
	// In the order json.Marshal wrote them when they were a map.
	for _, f := range [...]struct{ name, value string }{{"nextCursor", page.NextCursor}, {"previousCursor", page.PreviousCursor}} {
		if f.value != "" {
			w.WriteByte(',')
			writeString(w, f.name)
			w.WriteByte(':')
			writeString(w, f.value)
		}
	}
	w.WriteByte('}')
	if w.Flush() != nil {
		return 0
	}
	return written
}

// writeResource streams one resource with the given status.
func writeResource(c *gin.Context, status int, item listItem) {
	w := startStream(c, status)
	defer endStream(w)
	if writeItem(w, &item) == nil {
		_ = w.Flush() // a failed write has no status left to change
	}
}

// streamWriters are the write buffers of finished responses: every list page would
// otherwise allocate its own (32 KiB, as much as the rest of a page of 100 users).
var streamWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, streamBuffer) }}

// pageBuffers are the buffers list pages encode resources into before the status line (about
// 80 KiB a page of 100 users), given back once the response is written.
var pageBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledPage bounds the buffers kept: a page of 1,000 large users is not kept for the next.
const maxPooledPage = 1 << 20

// pageBuffersKey is where pageBuffer leaves the buffers of a request.
const pageBuffersKey = "roster.pageBuffers"

// pageBuffer returns an empty buffer, with room for at least n bytes, to encode the resources
// of c's response into; the caller stores the grown buffer back into it. A handler that uses
// one calls releaseBuffers once its response is written, and nothing reads the encoded
// resources after that.
func pageBuffer(c *gin.Context, n int) *[]byte {
	bp := pageBuffers.Get().(*[]byte)
	if cap(*bp) < n {
		*bp = make([]byte, 0, n)
	}
	*bp = (*bp)[:0]
	held, _ := c.Get(pageBuffersKey)
	list, _ := held.([]*[]byte)
	c.Set(pageBuffersKey, append(list, bp))
	return bp
}

// releaseBuffers gives back the buffers of c's response (see pageBuffer).
func releaseBuffers(c *gin.Context) {
	held, _ := c.Get(pageBuffersKey)
	list, _ := held.([]*[]byte)
	for _, bp := range list {
		if cap(*bp) <= maxPooledPage {
			pageBuffers.Put(bp)
		}
	}
	c.Set(pageBuffersKey, nil)
}

// startStream sends the status and headers and returns the buffered body writer; endStream
// gives it back once the response is written.
func startStream(c *gin.Context, status int) *bufio.Writer {
	c.Header("Content-Type", ContentType)
	c.Status(status)
	w := streamWriters.Get().(*bufio.Writer)
	w.Reset(c.Writer)
	return w
}

// endStream returns a writer of startStream to the pool, holding no connection.
func endStream(w *bufio.Writer) {
	w.Reset(nil)
	streamWriters.Put(w)
}

// writeItem writes one resource: its head, with the members attribute spliced in before the
// closing brace, one member at a time.
func writeItem(w *bufio.Writer, item *listItem) error {
	if item.members == nil {
		_, err := w.Write(item.head)
		return err
	}
	head := item.head[:len(item.head)-1] // without "}"
	w.Write(head)
	if len(head) > 1 { // not "{": after other fields
		w.WriteByte(',')
	}
	w.WriteString(`"members":[`)
	first := true
	var err error
	item.members.Each(func(id string) bool {
		if !first {
			w.WriteByte(',')
		}
		first = false
		writeMember(w, item, id)
		// bufio keeps the first error and fails every later write: stop at it.
		_, err = w.Write(nil)
		return err == nil
	})
	if err != nil {
		return err
	}
	_, err = w.WriteString("]}")
	return err
}

// writeMember writes the member id with the sub-attributes item's fields keep, in the order
// json.Marshal wrote member refs: {"value":…,"$ref":…,"type":"User"}.
func writeMember(w *bufio.Writer, item *listItem, id string) {
	sep := byte('{')
	if item.fields.value {
		w.WriteByte(sep)
		w.WriteString(`"value":`)
		writeString(w, id)
		sep = ','
	}
	if item.fields.ref {
		w.WriteByte(sep)
		w.WriteString(`"$ref":"`)
		w.WriteString(item.userRef)
		writeRaw(w, id)
		w.WriteByte('"')
		sep = ','
	}
	if item.fields.typ {
		w.WriteByte(sep)
		w.WriteString(`"type":"User"`)
	}
	w.WriteByte('}')
}

// writeString writes s as a JSON string.
func writeString(w *bufio.Writer, s string) {
	w.WriteByte('"')
	writeRaw(w, s)
	w.WriteByte('"')
}

// writeRaw writes s escaped for the inside of a JSON string. Member ids are object names
// (lowercase letters, digits, '-', '.'), which need no escaping: the fast path copies them.
func writeRaw(w *bufio.Writer, s string) {
	if plain(s) {
		w.WriteString(s)
		return
	}
	b, _ := json.Marshal(s) // a string always encodes
	w.Write(b[1 : len(b)-1])
}

// plain reports whether s needs no escaping in a JSON string (as encoding/json escapes,
// including its HTML-safe escapes).
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch < 0x20, ch >= 0x80, ch == '"', ch == '\\', ch == '<', ch == '>', ch == '&':
			return false
		}
	}
	return true
}

// escaped returns s escaped for the inside of a JSON string.
func escaped(s string) string {
	if plain(s) {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
