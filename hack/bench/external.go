package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/testutil/proccpu"
	"github.com/rosterhq/roster/internal/token"
)

// managerProc is `roster manager` running as its own process, so that its RSS is its own:
// the memory and paging scenarios measure it, not the bench.
type managerProc struct {
	bin       string
	args, env []string
	logPath   string
	probeAddr string

	cmd        *exec.Cmd
	scimURL    string
	metricsURL string
	// pprofURL is the manager's /debug/pprof ("" unless -heap-profile asked for it).
	pprofURL string
	exited   chan struct{}
}

// rosterBinary returns the roster binary to run: -roster-bin as given, or built from
// -roster-src (default: this checkout) into dir. Building an older checkout measures "before".
func rosterBinary(cfg config, dir string) (string, error) {
	if cfg.rosterBin != "" {
		return cfg.rosterBin, nil
	}
	src := cfg.rosterSrc
	if src == "" {
		src = "."
	}
	out := filepath.Join(dir, "roster")
	build := exec.Command("go", "build", "-o", out, ".")
	build.Dir, build.Stdout, build.Stderr = src, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building roster in %s: %w", src, err)
	}
	return out, nil
}

// startManager runs `roster manager` against env (started with controlplane.InstallWebhook):
// SQLite identity store, webhook served where env expects it, plain-HTTP metrics on loopback,
// no leader election and no SCIM rate limit (the load would hit it).
func (b *bench) startManager(ctx context.Context, env *envtest.Environment) (*managerProc, error) {
	dir, err := os.MkdirTemp("", "roster-bench-")
	if err != nil {
		return nil, err
	}
	b.cleanups = append(b.cleanups, func() { _ = os.RemoveAll(dir) })
	bin, err := rosterBinary(b.cfg, dir)
	if err != nil {
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: "roster-bench-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	_, whPort, whCerts, err := controlplane.WebhookServing(env)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	scimAddr, metricsAddr, probeAddr := ports[0], ports[1], ports[2]
	args := []string{"manager",
		"--kubeconfig", kubeconfig,
		"--identity-store", "sqlite://" + filepath.Join(dir, "roster.db"),
		"--scim-bind-address", scimAddr,
		"--metrics-bind-address", metricsAddr, "--metrics-insecure",
		"--health-probe-bind-address", probeAddr,
		"--leader-elect=false",
		"--namespace", token.DefaultNamespace,
		"--webhook-bind-port", strconv.Itoa(whPort), "--webhook-cert-dir", whCerts,
		"--rate-limit", "0",
		"--shutdown-drain-delay", "0",
		"--zap-log-level", "error",
	}
	if b.cfg.storeResync != 0 {
		args = append(args, "--store-resync-interval", b.cfg.storeResync.String())
	}
	pprofURL := ""
	if b.cfg.heapProfile != "" { // a flag older rosters do not have
		args = append(args, "--pprof-bind-address", ports[3])
		pprofURL = "http://" + ports[3] + "/debug/pprof"
	}
	m := &managerProc{bin: bin, args: args, logPath: filepath.Join(dir, "manager.log"), probeAddr: probeAddr,
		scimURL: "http://" + scimAddr, metricsURL: "http://" + metricsAddr + "/metrics", pprofURL: pprofURL}
	if b.cfg.memoryLimit > 0 {
		// As config/manager does through the downward API: the manager sets Go's soft memory
		// limit to 90 % of it.
		m.env = []string{fmt.Sprintf("ROSTER_CONTAINER_MEMORY_LIMIT=%d", b.cfg.memoryLimit)}
	}
	b.cleanups = append(b.cleanups, m.stop)
	if err := m.launch(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// launch starts the manager process with its environment plus extraEnv and waits until it is
// ready. The identity store and the ports stay those of the first launch.
func (m *managerProc) launch(ctx context.Context, extraEnv ...string) error {
	cmd := exec.Command(m.bin, m.args...)
	cmd.Env = append(append(os.Environ(), m.env...), extraEnv...)
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("roster manager exited: see %s", m.logPath)
		default:
		}
		resp, err := http.Get("http://" + m.probeAddr + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for roster manager to be ready: %w", err)
	}
	return nil
}

// stop ends the manager process (SIGTERM, then SIGKILL after 30 s).
func (m *managerProc) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// memSample is one reading of the manager's memory, in bytes.
type memSample struct {
	rss, hwm, heapInuse, heapAlloc float64
	// rssFile is the file-backed part of rss (mostly the roster binary's pages); cpu is the
	// process's CPU seconds so far (user and system, from /proc).
	rssFile, cpu float64
	// allocated is what the manager's heap has allocated since it started (bytes, garbage
	// included); reconciles counts its reconciles so far, every controller and result.
	allocated, reconciles float64
}

// readProc takes the part of a sample the kernel gives without asking the manager: RSS,
// VmHWM and CPU time. Reading it costs the manager nothing, so it may be done often.
func (m *managerProc) readProc() (memSample, error) {
	var s memSample
	pid := m.cmd.Process.Pid
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kib, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			s.rss = kib * 1024
		case "VmHWM:":
			s.hwm = kib * 1024
		case "RssFile:":
			s.rssFile = kib * 1024
		}
	}
	cpu, err := proccpu.Of(pid)
	if err != nil {
		return s, err
	}
	s.cpu = cpu.Seconds()
	return s, nil
}

// read takes a whole sample: readProc's, and the heap, allocation and reconcile counters from
// the manager's /metrics. A scrape is work for the manager (a gather of every collector and a
// gzip of the text), so phases that measure the manager at rest read it only at their start
// and end (quiet).
func (m *managerProc) read() (memSample, error) {
	s, err := m.readProc()
	if err != nil {
		return s, err
	}
	resp, err := http.Get(m.metricsURL)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch {
		case name == "go_memstats_heap_inuse_bytes":
			s.heapInuse = v
		case name == "go_memstats_heap_alloc_bytes":
			s.heapAlloc = v
		case name == "go_memstats_alloc_bytes_total":
			s.allocated = v
		case strings.HasPrefix(name, "controller_runtime_reconcile_total{"):
			s.reconciles += v
		}
	}
	return s, sc.Err()
}

// phaseMemory is what the sampler saw during one phase.
type phaseMemory struct {
	start, peak, end memSample
	samples          int
	elapsed          time.Duration
}

// during samples m every 250 ms while f runs and returns the readings before, at the peak
// (per field) and after.
func (m *managerProc) during(f func() error) (phaseMemory, error) {
	return m.sample(m.read, f)
}

// quiet is during for phases at rest: between its first and last reading it samples only
// what readProc sees, so that the bench adds no work to what it measures (a /metrics scrape
// every 250 ms was most of the manager's CPU at rest: docs/benchmarks.md, "At rest").
func (m *managerProc) quiet(f func() error) (phaseMemory, error) {
	return m.sample(m.readProc, f)
}

func (m *managerProc) sample(read func() (memSample, error), f func() error) (phaseMemory, error) {
	var pm phaseMemory
	var err error
	began := time.Now()
	if pm.start, err = m.read(); err != nil {
		return pm, err
	}
	pm.peak = pm.start
	var mu sync.Mutex
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			s, err := read()
			if err != nil {
				continue
			}
			mu.Lock()
			pm.samples++
			pm.peak.rss = max(pm.peak.rss, s.rss)
			pm.peak.hwm = max(pm.peak.hwm, s.hwm)
			pm.peak.heapInuse = max(pm.peak.heapInuse, s.heapInuse)
			pm.peak.heapAlloc = max(pm.peak.heapAlloc, s.heapAlloc)
			mu.Unlock()
		}
	}()
	ferr := f()
	close(stop)
	<-done
	if pm.end, err = m.read(); err != nil {
		return pm, err
	}
	pm.elapsed = time.Since(began)
	pm.peak.rss = max(pm.peak.rss, pm.end.rss)
	pm.peak.heapInuse = max(pm.peak.heapInuse, pm.end.heapInuse)
	return pm, ferr
}

// restFigures are the costs of a phase at rest: CPU seconds, MB allocated per second and
// reconciles, between its first and last reading.
func (pm phaseMemory) restFigures() string {
	secs := pm.elapsed.Seconds()
	return fmt.Sprintf("CPU %.2f s in %s; %.2f MB/s allocated; %.0f reconciles",
		pm.end.cpu-pm.start.cpu, pm.elapsed.Round(time.Second), (pm.end.allocated-pm.start.allocated)/1e6/secs, pm.end.reconciles-pm.start.reconciles)
}

// scrapeCost scrapes the manager's /metrics n times as Prometheus does (gzip) and returns what
// one scrape costs it: CPU seconds and bytes allocated (the last reading's own scrape
// included, so slightly more).
func (m *managerProc) scrapeCost(n int) (cpu, allocated float64, err error) {
	before, err := m.read()
	if err != nil {
		return 0, 0, err
	}
	for range n {
		req, err := http.NewRequest(http.MethodGet, m.metricsURL, nil)
		if err != nil {
			return 0, 0, err
		}
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	after, err := m.read()
	if err != nil {
		return 0, 0, err
	}
	return (after.cpu - before.cpu) / float64(n), (after.allocated - before.allocated) / float64(n), nil
}

func mib(bytes float64) string { return fmt.Sprintf("%.0f MiB", bytes/(1<<20)) }

// saveHeapProfile writes the manager's heap profile (after a GC) to file.
func (m *managerProc) saveHeapProfile(file string) error {
	resp, err := http.Get(m.pprofURL + "/heap?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET heap profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
