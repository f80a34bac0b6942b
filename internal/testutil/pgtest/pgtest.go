// Package pgtest runs a real PostgreSQL server for tests: initdb into a
// temporary directory, pg_ctl start listening on a Unix socket only (no TCP,
// so parallel test binaries never fight over ports), one database per test.
//
// Per test:
//
//	srv := pgtest.Start(t) // stopped and removed when t ends
//	url := srv.URL()
//
// One server per test binary:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//	func TestX(t *testing.T) { url := pgtest.Shared(t).NewDatabase(t) }
//
// The server binaries are looked up in PATH, then in
// /usr/lib/postgresql/*/bin (Debian's postgresql package). If they are
// missing, tests fail saying what to install; with ROSTER_SKIP_POSTGRES=1
// they are skipped instead (always, binaries or not).
//
// initdb refuses to run as root. As root, the server runs as the "postgres"
// user (or "nobody"), and its directory is owned by that user; the test
// process still connects, over the socket, as the database superuser
// "postgres" with trust authentication.
//
// pg_ctl detaches the server, so a test binary that dies (a panic, a
// -timeout) leaves it running; the next New in any test binary stops and
// removes servers whose test process is gone.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// SkipEnv is the environment variable that skips PostgreSQL tests when "1".
const SkipEnv = "ROSTER_SKIP_POSTGRES"

// ErrNotInstalled is returned by New when initdb and pg_ctl are not found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found in PATH or /usr/lib/postgresql/*/bin; " +
	"install the Debian package postgresql (apt-get install postgresql), or set " + SkipEnv + "=1 to skip these tests")

const (
	superuser = "postgres"
	// port only names the socket file (.s.PGSQL.5432): there is no TCP.
	port      = 5432
	defaultDB = "roster"
)

// Server is a running (or stopped) PostgreSQL server owned by a test.
type Server struct {
	bin     string // directory holding initdb and pg_ctl
	dir     string // socket directory; holds data/ and the log
	cred    *syscall.Credential
	mu      sync.Mutex // serialises Start, Stop and Close
	dbCount atomic.Int64
}

// Start starts a server for one test and stops and removes it when the test
// ends, printing the end of the server log if the test failed.
func Start(t testing.TB) *Server {
	t.Helper()
	skipIfRequested(t)
	s, err := New()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgtest: end of server log:\n%s", s.LogTail(4096))
		}
		if err := s.Close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// New initialises a cluster in a new temporary directory, starts it and
// creates the database that URL names. The caller must Close it.
func New() (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		if s.cred, err = unprivilegedUser(); err != nil {
			return nil, err
		}
	}
	// A Unix socket path must fit in 107 bytes, so keep the directory
	// short: /tmp rather than a test's long TempDir.
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	reapStale(base)
	if s.dir, err = os.MkdirTemp(base, dirPrefix); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(s.dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		s.removeDir()
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(s.dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.removeDir()
			return nil, err
		}
	}
	if err := s.initdb(); err != nil {
		s.removeDir()
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.removeDir()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.CreateDatabase(ctx, defaultDB); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

const (
	dirPrefix = "pgtest"
	// ownerFile holds the pid of the test process that started the server.
	ownerFile = "owner.pid"
)

// reapStale stops and removes the servers of test processes that died
// without cleaning up (a panic or a -timeout kill skips Cleanup and
// TestMain): pg_ctl detaches the server, so nothing else would stop it.
func reapStale(base string) {
	owners, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*", ownerFile))
	for _, f := range owners {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // still running, or not ours to judge
		}
		dir := filepath.Dir(f)
		bin, err := findBinaries()
		if err != nil {
			return
		}
		stale := &Server{bin: bin, dir: dir}
		if fi, err := os.Stat(dir); err == nil && os.Geteuid() == 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				stale.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			}
		}
		_ = stale.Close()
	}
}

// debianBinGlob is where Debian's postgresql package installs the server
// binaries, one directory per major version; a variable for tests.
var debianBinGlob = "/usr/lib/postgresql/*/bin"

// findBinaries returns the directory of initdb and pg_ctl: PATH first, then
// the newest /usr/lib/postgresql/<version>/bin.
func findBinaries() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob(debianBinGlob)
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// unprivilegedUser picks the account the server runs as when the tests run
// as root: postgres, which Debian's package creates, else nobody.
func unprivilegedUser() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root and neither user postgres nor nobody exists to run PostgreSQL as (initdb refuses root)")
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logFile() string { return filepath.Join(s.dir, "server.log") }

// run runs a server binary as the server's user.
func (s *Server) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (s *Server) initdb() error {
	err := s.run("initdb", "-D", s.dataDir(), "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	if err != nil {
		return err
	}
	// Settings for a throwaway test server: socket only, no durability.
	conf := fmt.Sprintf(`
listen_addresses = ''
unix_socket_directories = '%s'
port = %d
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 200
timezone = 'UTC'
log_min_messages = warning
`, s.dir, port)
	f, err := os.OpenFile(filepath.Join(s.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	return errors.Join(err, f.Close())
}

// Start starts the server (again, after Stop) and waits until it accepts
// connections. URLs stay the same across restarts.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// -l sends the server's output to the log, so pg_ctl returns without
	// leaving our pipes open.
	return s.run("pg_ctl", "start", "-D", s.dataDir(), "-l", s.logFile(), "-w", "-t", "60")
}

// Stop shuts the server down (fast mode: sessions are disconnected) and
// waits until it is gone, so that tests can watch clients lose it.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run("pg_ctl", "stop", "-D", s.dataDir(), "-m", "fast", "-w", "-t", "60")
}

// Close stops the server if it runs and removes its directory.
func (s *Server) Close() error {
	var err error
	s.mu.Lock()
	if isFile(filepath.Join(s.dataDir(), "postmaster.pid")) {
		err = s.run("pg_ctl", "stop", "-D", s.dataDir(), "-m", "immediate", "-w", "-t", "60")
	}
	s.mu.Unlock()
	return errors.Join(err, s.removeDir())
}

func (s *Server) removeDir() error { return os.RemoveAll(s.dir) }

// URL returns the postgres:// URL of the database New created.
func (s *Server) URL() string { return s.DatabaseURL(defaultDB) }

// DatabaseURL returns the postgres:// URL of the named database, connecting
// as the superuser over the server's Unix socket.
func (s *Server) DatabaseURL(db string) string {
	q := url.Values{}
	q.Set("host", s.dir)
	q.Set("port", strconv.Itoa(port))
	q.Set("sslmode", "disable")
	u := url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// CreateDatabase creates a database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.DatabaseURL("postgres"))
	if err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.DatabaseURL(name), nil
}

// NewDatabase creates an empty database for one test and returns its URL.
// The database is dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("test_%d", s.dbCount.Add(1))
	u, err := s.CreateDatabase(ctx, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DatabaseURL("postgres"))
		if err != nil {
			return // the server is gone; so is the database
		}
		defer conn.Close(ctx)
		// FORCE: a test's leftover connections must not keep it alive.
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return u
}

// LogTail returns up to the last n bytes of the server log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logFile())
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func skipIfRequested(t testing.TB) {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skip("PostgreSQL tests skipped: " + SkipEnv + "=1")
	}
}

var shared struct {
	main bool
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the package's tests and then stops the server Shared started.
// Call it from TestMain; it does not return.
func Main(m *testing.M) {
	shared.main = true
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// Shared returns the test binary's one server, starting it on first use.
// Tests that stop the server must use Start instead.
func Shared(t testing.TB) *Server {
	t.Helper()
	skipIfRequested(t)
	if !shared.main {
		t.Fatal("pgtest.Shared needs pgtest.Main(m) in the package's TestMain, which stops the server")
	}
	shared.once.Do(func() { shared.srv, shared.err = New() })
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	return shared.srv
}
