package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Terminal log formats (--log-format).
const (
	logFormatJSON    = "json"
	logFormatConsole = "console"
)

// logFileName is the JSON log `roster dev` keeps in its data directory; the previous run's is
// kept beside it as logFileName + ".1".
const logFileName = "roster.log"

// logOptions are the logging flags `roster manager` and `roster dev` share: the zap flags
// controller-runtime defines, and the terminal's format.
type logOptions struct {
	zap    crzap.Options
	format string
}

// logFlags binds the logging flags on fs; format is the default of --log-format.
func logFlags(fs *flag.FlagSet, format string) *logOptions {
	o := &logOptions{format: format}
	o.zap.BindFlags(fs)
	fs.Func("log-format", "terminal log format: json (one JSON object a line) or console (one short line per SCIM request and "+
		"reconcile outcome; controller-runtime's startup lines only with --zap-log-level debug) (default "+format+")", func(v string) error {
		if v != logFormatJSON && v != logFormatConsole {
			return fmt.Errorf("want %s or %s", logFormatJSON, logFormatConsole)
		}
		o.format = v
		return nil
	})
	return o
}

// terminalLevel is how verbose the terminal is: --zap-log-level, else info (debug with --zap-devel).
func (o *logOptions) terminalLevel() zapcore.LevelEnabler {
	if o.zap.Level != nil {
		return o.zap.Level
	}
	if o.zap.Development {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

// setupLogging points controller-runtime's logger (and klog's, so client-go's lines are not
// plain text in between) at term in the chosen format and, when file is not nil, at file as
// JSON: every line the terminal would show in JSON, the startup lines and the debug-level
// request and event lines included.
func setupLogging(o *logOptions, term, file io.Writer) {
	var cores []zapcore.Core
	if file != nil {
		fo := o.zap
		fo.Development, fo.NewEncoder, fo.Encoder = false, nil, nil // always JSON
		termLevel := o.terminalLevel()
		fo.Level = zap.LevelEnablerFunc(func(l zapcore.Level) bool { return l >= zapcore.DebugLevel || termLevel.Enabled(l) })
		cores = append(cores, crzap.NewRaw(crzap.UseFlagOptions(&fo), crzap.WriteTo(file)).Core())
	}
	if o.format == logFormatConsole {
		cores = append(cores, newConsoleCore(term, o.terminalLevel()))
	} else {
		to := o.zap
		cores = append(cores, crzap.NewRaw(crzap.UseFlagOptions(&to), crzap.WriteTo(term)).Core())
	}
	stack := o.zap.StacktraceLevel
	if stack == nil {
		stack = zapcore.ErrorLevel
	}
	current.Store(&logTarget{core: zapcore.NewTee(cores...), stack: stack, errOut: term})
	rootOnce.Do(func() {
		l := zapr.NewLogger(zap.New(switchCore{},
			zap.AddStacktrace(zap.LevelEnablerFunc(func(l zapcore.Level) bool { return current.Load().stack.Enabled(l) })),
			zap.ErrorOutput(zapcore.AddSync(errorOutput{}))))
		ctrl.SetLogger(l)
		klog.SetLogger(l.WithName("klog"))
	})
}

// controller-runtime's root logger can be set once per process: later ctrl.SetLogger calls are
// ignored (its delegating sink is fulfilled for good, and loggers derived from it keep the
// first sink). So the root logger is set once, over switchCore, and every setupLogging swaps
// the target underneath; the tests start `roster dev` several times in one process.
var (
	rootOnce sync.Once
	current  atomic.Pointer[logTarget]
)

// logTarget is where log lines go now.
type logTarget struct {
	core   zapcore.Core
	stack  zapcore.LevelEnabler
	errOut io.Writer
}

// switchCore forwards to the current target's core, with the fields given to With.
type switchCore struct{ fields []zapcore.Field }

func (s switchCore) target() zapcore.Core {
	c := current.Load().core
	if len(s.fields) > 0 {
		c = c.With(s.fields)
	}
	return c
}

func (s switchCore) Enabled(l zapcore.Level) bool { return current.Load().core.Enabled(l) }
func (s switchCore) With(f []zapcore.Field) zapcore.Core {
	return switchCore{fields: append(slices.Clip(s.fields), f...)}
}
func (s switchCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !s.Enabled(e.Level) {
		return ce
	}
	return s.target().Check(e, ce)
}
func (s switchCore) Write(e zapcore.Entry, f []zapcore.Field) error { return s.target().Write(e, f) }
func (s switchCore) Sync() error                                    { return current.Load().core.Sync() }

// errorOutput receives zap's own errors (a failed write) on the current terminal.
type errorOutput struct{}

func (errorOutput) Write(p []byte) (int, error) { return current.Load().errOut.Write(p) }

// openLogFile starts dir/roster.log for this run and keeps the previous run's as roster.log.1
// (replacing an older one): one file never grows without bound across restarts, and the run
// before a restart is still there to read. Mode 0600: the lines name users.
func openLogFile(dir string) (*os.File, error) {
	path := filepath.Join(dir, logFileName)
	if err := os.Rename(path, path+".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keeping the previous log: %w", err)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
}
