package testenv

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"

	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rosterhq/roster/internal/token"
)

// logCapture keeps every log line of a test binary, at every level, so that run can check,
// once the tests are over, that no token handed out during them was ever logged.
type logCapture struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	secrets []string
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) Sync() error { return nil }

// remember records a token: it, and its stored hash, must never show up in a log line.
func (l *logCapture) remember(tok string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := token.Hash(tok)
	l.secrets = append(l.secrets, tok, h, strings.TrimPrefix(h, "sha256:"))
}

// leaks returns a description of each remembered secret found in the captured logs.
func (l *logCapture) leaks() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.secrets {
		if bytes.Contains(l.buf.Bytes(), []byte(s)) {
			out = append(out, fmt.Sprintf("a token or token hash (%.10s…) appears in the logs", s))
		}
	}
	return out
}

// captured is the capture of the running test binary.
var captured = &logCapture{}

// newLogger logs errors to stderr, as before, and everything, at every verbosity, to the
// capture.
func newLogger() zap.Opts {
	return zap.RawZapOpts(uzap.WrapCore(func(c zapcore.Core) zapcore.Core {
		all := zapcore.NewCore(zapcore.NewJSONEncoder(uzap.NewProductionEncoderConfig()), captured, zapcore.Level(-10))
		return zapcore.NewTee(c, all)
	}))
}

// checkLeaks fails the binary (exit code 1) when a token leaked into the logs.
func checkLeaks(code int) int {
	leaks := captured.leaks()
	for _, l := range leaks {
		fmt.Fprintln(os.Stderr, "testenv: LEAK:", l)
	}
	if len(leaks) > 0 {
		return 1
	}
	return code
}
