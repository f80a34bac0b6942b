package slimuser

import (
	"sync"
	"sync/atomic"
)

// dict holds the strings encoded by reference. It only grows, so an index in a buffer stays
// valid for the life of the process; it is bounded (dictMax entries of at most dictMaxLen
// bytes), and once full further values are encoded inline. Entries are read without the lock:
// a buffer reaches a reader through the informer's store, after the entries it names were
// written.
var dict struct {
	mu     sync.Mutex
	ids    map[string]uint32
	n      uint32
	chunks [dictMax / dictChunk]atomic.Pointer[[dictChunk]string]
}

const (
	dictChunk  = 1024
	dictMax    = 64 * dictChunk
	dictMaxLen = 256
)

// symbol returns the dictionary's index of s, adding it when there is room.
func symbol(s string) (uint32, bool) {
	if s == "" || len(s) > dictMaxLen {
		return 0, false
	}
	dict.mu.Lock()
	defer dict.mu.Unlock()
	if id, ok := dict.ids[s]; ok {
		return id, true
	}
	if dict.n >= dictMax {
		return 0, false
	}
	if dict.ids == nil {
		dict.ids = map[string]uint32{}
	}
	id := dict.n
	c := dict.chunks[id/dictChunk].Load()
	if c == nil {
		c = new([dictChunk]string)
	}
	c[id%dictChunk] = s // s is already the caller's own copy (cachetrim's interned one, or a clone)
	dict.chunks[id/dictChunk].Store(c)
	dict.ids[s] = id
	dict.n++
	return id, true
}

// existingSymbol returns the dictionary's index of s if s is in it already, adding nothing.
func existingSymbol(s string) (uint32, bool) {
	if s == "" || len(s) > dictMaxLen {
		return 0, false
	}
	dict.mu.Lock()
	defer dict.mu.Unlock()
	id, ok := dict.ids[s]
	return id, ok
}

// lookup returns dictionary entry id.
func lookup(id uint64) (string, bool) {
	if id >= dictMax {
		return "", false
	}
	c := dict.chunks[id/dictChunk].Load()
	if c == nil {
		return "", false
	}
	s := c[id%dictChunk]
	return s, s != ""
}
