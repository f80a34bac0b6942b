package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/rosterhq/roster/controllers"
)

// consoleCore writes the log a person reads in a terminal: one short line per SCIM request,
// per reconcile outcome that changed something or failed, and per error. Everything else —
// controller-runtime's startup and shutdown chatter, Roster's startup notes, the audit lines
// that repeat a request — counts as debug, shown only when level enables debug.
type consoleCore struct {
	mu     *sync.Mutex
	w      io.Writer
	level  zapcore.LevelEnabler
	fields []zapcore.Field
}

func newConsoleCore(w io.Writer, level zapcore.LevelEnabler) *consoleCore {
	return &consoleCore{mu: &sync.Mutex{}, w: w, level: level}
}

// Enabled admits debug entries whatever the level: the request and event lines the console
// shows at info are logged at debug (V(1)); Check decides on the whole entry.
func (c *consoleCore) Enabled(l zapcore.Level) bool {
	return l >= zapcore.DebugLevel || c.level.Enabled(l)
}

func (c *consoleCore) With(f []zapcore.Field) zapcore.Core {
	cc := *c
	cc.fields = append(append([]zapcore.Field(nil), c.fields...), f...)
	return &cc
}

func (c *consoleCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if _, l := classify(e); c.level.Enabled(l) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *consoleCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	all := append(append([]zapcore.Field(nil), c.fields...), fields...)
	line, show := c.line(e, all)
	if !show {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.w, e.Time.Format("15:04:05")+" "+line+"\n")
	return err
}

func (c *consoleCore) Sync() error { return nil }

// line renders an entry; show is false for what turns out to be debug only once its fields
// are known.
func (c *consoleCore) line(e zapcore.Entry, fields []zapcore.Field) (line string, show bool) {
	kv := fieldValues(fields)
	switch kind, _ := classify(e); kind {
	case lineRequest:
		// Probes are not SCIM traffic.
		if r := kv.str("route"); (r == "/readyz" || r == "/healthz") && e.Level < zapcore.ErrorLevel && !c.level.Enabled(zapcore.DebugLevel) {
			return "", false
		}
		return requestLine(kv), true
	case lineEvent:
		if l, ok := eventLine(e.Message, kv); ok {
			return l, true
		}
	case lineAdmission:
		// The writer got the reason from kubectl; the console says who tried what.
		return fmt.Sprintf("admission: %s %s %s %s by %s", e.Message, strings.ToLower(kv.str("operation")), kv.str("kind"),
			objectName(kv.str("namespace"), kv.str("name")), kv.str("user")), true
	case lineReconcileError:
		// A conflict only means the cache was behind; the retry that follows decides. Its line
		// would be noise, not news.
		if apierrors.IsConflict(fieldError(fields)) && !c.level.Enabled(zapcore.DebugLevel) {
			return "", false
		}
		return reconcileErrorLine(kv), true
	}
	return genericLine(e, kv), true
}

// lineKind is how the console renders an entry.
type lineKind int

const (
	lineGeneric lineKind = iota
	lineRequest
	lineEvent
	lineReconcileError
	lineAdmission
)

// classify says how the console shows an entry and at which level. The names are those of the
// loggers internal/app and controller-runtime create: "scim" for the SCIM server, "events"
// for the event recorders, "outcome" (or "<name>.outcome") for the routine outcomes the controllers log
// instead of recording an event, "admission" for the webhook.
func classify(e zapcore.Entry) (lineKind, zapcore.Level) {
	switch {
	case e.LoggerName == "scim" && (e.Message == "SCIM request" || e.Message == "SCIM request failed"):
		return lineRequest, max(e.Level, zapcore.InfoLevel)
	case e.LoggerName == "events" || e.LoggerName == controllers.OutcomeLogger || strings.HasSuffix(e.LoggerName, "."+controllers.OutcomeLogger):
		return lineEvent, zapcore.InfoLevel
	case e.Message == "Reconciler error":
		return lineReconcileError, zapcore.ErrorLevel
	case e.Level >= zapcore.WarnLevel:
		return lineGeneric, e.Level
	case e.LoggerName == "admission" && e.Message == "denied":
		return lineAdmission, zapcore.InfoLevel
	case e.LoggerName == "admission" && e.Message == "break-glass write admitted":
		return lineGeneric, zapcore.InfoLevel
	}
	return lineGeneric, min(e.Level, zapcore.DebugLevel)
}

// requestLine: "SCIM demo POST /Users 201 Created 9.9ms", the path relative to the org's base URL.
func requestLine(kv fieldList) string {
	path, org := kv.str("path"), kv.str("org")
	if org != "" {
		path = strings.TrimPrefix(path, "/scim/v2/"+org)
	}
	if len(path) > 120 {
		path = path[:120] + "…"
	}
	status, _ := kv.get("status").(int64)
	var b strings.Builder
	b.WriteString("SCIM ")
	if org != "" {
		b.WriteString(org + " ")
	}
	fmt.Fprintf(&b, "%s %s %d %s", kv.str("method"), path, status, http.StatusText(int(status)))
	if d, err := time.ParseDuration(kv.str("duration")); err == nil {
		b.WriteString(" " + shortDuration(d))
	}
	if msg := kv.str("error"); msg != "" {
		b.WriteString(": " + msg)
	}
	return b.String()
}

// eventLine: "orguser demo/u-…: Created user …", a reconcile outcome the controllers recorded as
// an event (controller-runtime logs each at debug with its object). The controller is named
// after the kind, as Roster's controllers are.
func eventLine(msg string, kv fieldList) (string, bool) {
	var ref corev1.ObjectReference
	switch o := kv.get("object").(type) {
	case corev1.ObjectReference:
		ref = o
	case *corev1.ObjectReference:
		ref = *o
	default:
		return "", false
	}
	line := strings.ToLower(ref.Kind) + " " + objectName(ref.Namespace, ref.Name) + ": "
	if kv.str("type") == corev1.EventTypeWarning {
		line += "warning " + kv.str("reason") + ": "
	}
	return line + msg, true
}

// reconcileErrorLine: "orgteam demo/g-…: error: …".
func reconcileErrorLine(kv fieldList) string {
	return kv.str("controller") + " " + objectName(kv.str("namespace"), kv.str("name")) + ": error: " + kv.str("error")
}

// genericLine: "error identity-store: identity store unreachable: dial …; key=value …".
func genericLine(e zapcore.Entry, kv fieldList) string {
	var b strings.Builder
	if e.Level != zapcore.InfoLevel {
		b.WriteString(strings.ToLower(e.Level.String()) + " ")
	}
	if e.LoggerName != "" {
		b.WriteString(e.LoggerName + ": ")
	}
	b.WriteString(e.Message)
	if msg := kv.str("error"); msg != "" {
		b.WriteString(": " + msg)
	}
	for _, f := range kv {
		if f.key == "error" || f.key == "errorVerbose" {
			continue
		}
		b.WriteString(" " + f.key + "=" + valueString(f.value))
	}
	return b.String()
}

func objectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// shortDuration rounds a latency to what a person compares: 412µs, 9.9ms, 1.24s.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}

func valueString(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			return strconv.Quote(v)
		}
		return v
	case int64, int32, int, uint64, float64, bool, time.Duration:
		return fmt.Sprint(v)
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// fieldList is an entry's fields in the order they were logged, as plain values.
type fieldList []struct {
	key   string
	value any
}

func fieldValues(fields []zapcore.Field) fieldList {
	var kv fieldList
	for _, f := range fields {
		enc := zapcore.NewMapObjectEncoder()
		f.AddTo(enc)
		// An error field adds "error" and maybe "errorVerbose"; keep the logged order.
		for _, k := range []string{f.Key, "error", "errorVerbose"} {
			if v, ok := enc.Fields[k]; ok {
				kv = append(kv, struct {
					key   string
					value any
				}{k, v})
				delete(enc.Fields, k)
			}
		}
	}
	return kv
}

// get returns the last value logged under key (a later WithValues wins, as in the JSON log).
func (kv fieldList) get(key string) any {
	for i := len(kv) - 1; i >= 0; i-- {
		if kv[i].key == key {
			return kv[i].value
		}
	}
	return nil
}

func (kv fieldList) str(key string) string {
	switch v := kv.get(key).(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// fieldError is the entry's error value, for errors.Is/As.
func fieldError(fields []zapcore.Field) error {
	for _, f := range fields {
		if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
			return err
		}
	}
	return nil
}
