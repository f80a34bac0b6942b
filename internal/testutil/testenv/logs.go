package testenv

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// LogRecorder keeps the lines of a logr.Logger a test hands to Roster (app.Config.SCIMLog,
// WebhookConfig.Log), each decoded from JSON, so that tests can assert on the fields of one
// line. Every line also goes to the package's leak check.
type LogRecorder struct {
	mu    sync.Mutex
	lines []map[string]any
}

// NewLogRecorder returns a recorder and its logger, which keeps lines up to verbosity (0:
// Info only, as a production install logs by default).
func NewLogRecorder(verbosity int) (*LogRecorder, logr.Logger) {
	r := &LogRecorder{}
	return r, funcr.NewJSON(func(obj string) {
		_, _ = captured.Write([]byte(obj + "\n"))
		var line map[string]any
		if err := json.Unmarshal([]byte(obj), &line); err != nil {
			line = map[string]any{"unparsed": obj}
		}
		r.mu.Lock()
		r.lines = append(r.lines, line)
		r.mu.Unlock()
	}, funcr.Options{Verbosity: verbosity})
}

// Find returns the lines with message msg whose fields include every key/value pair of
// match, compared as strings (a JSON number 201 matches "201").
func (r *LogRecorder) Find(msg string, match map[string]string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, line := range r.lines {
		if line["msg"] != msg {
			continue
		}
		ok := true
		for k, want := range match {
			if FieldString(line[k]) != want {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// String returns every line, for failure messages.
func (r *LogRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, line := range r.lines {
		enc, _ := json.Marshal(line)
		b.Write(enc)
		b.WriteByte('\n')
	}
	return b.String()
}

// FieldString renders a decoded JSON field as a string: strings as they are, anything else
// (numbers, lists) as JSON.
func FieldString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	enc, _ := json.Marshal(v)
	return string(enc)
}
