package pgtest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func query(ctx context.Context, url string) (string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var db string
	err = conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	return db, err
}

func TestStartStopStart(t *testing.T) {
	srv := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	url := srv.URL()
	if !strings.HasPrefix(url, "postgres://") {
		t.Fatalf("URL() = %q, want a postgres:// URL", url)
	}
	if db, err := query(ctx, url); err != nil || db != "roster" {
		t.Fatalf("query on fresh server: db=%q err=%v, want roster", db, err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := query(ctx, url); err == nil {
		t.Fatal("query succeeded while the server was stopped")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if db, err := query(ctx, url); err != nil || db != "roster" {
		t.Fatalf("query after restart: db=%q err=%v", db, err)
	}
}

func TestCloseRemovesEverything(t *testing.T) {
	skipIfRequested(t)
	srv, err := New()
	if err != nil {
		t.Fatal(err)
	}
	url := srv.URL()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(srv.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("server directory still there after Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := query(ctx, url); err == nil {
		t.Fatal("server still answers after Close")
	}
}

func TestSharedNewDatabase(t *testing.T) {
	srv := Shared(t)
	if Shared(t) != srv {
		t.Fatal("Shared returned a second server")
	}
	a, b := srv.NewDatabase(t), srv.NewDatabase(t)
	if a == b {
		t.Fatalf("NewDatabase returned the same URL twice: %s", a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, u := range []string{a, b} {
		if _, err := query(ctx, u); err != nil {
			t.Fatalf("new database %s: %v", u, err)
		}
	}
}

func TestNotInstalledSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := debianBinGlob
	debianBinGlob = filepath.Join(t.TempDir(), "*", "bin")
	t.Cleanup(func() { debianBinGlob = old })

	_, err := New()
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("New() without binaries = %v, want ErrNotInstalled", err)
	}
	for _, want := range []string{"apt-get install postgresql", SkipEnv + "=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestNewReapsServersOfDeadTestProcesses(t *testing.T) {
	skipIfRequested(t)
	orphan, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.Close() })
	// Pretend its test process died: a pid that no longer exists.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan.dir, ownerFile), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}

	srv := Start(t) // the next start cleans up
	if _, err := os.Stat(orphan.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("orphaned server directory still there: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := query(ctx, orphan.URL()); err == nil {
		t.Fatal("orphaned server still answers")
	}
	if _, err := query(ctx, srv.URL()); err != nil {
		t.Fatalf("new server: %v", err)
	}
}
