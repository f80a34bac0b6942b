// Command bench measures Roster against a real local control plane (the kube-apiserver + etcd
// that hack/control-plane.sh builds) and prints a table. Every ratio compares two runs made
// here, in one process, on the same control plane, so the noise of a shared machine cancels.
//
//	go run ./hack/bench                       # all scenarios, default sizes
//	go run ./hack/bench -scenarios post -n 5000 -concurrency 16
//	go run ./hack/bench -scenarios store      # SCIM write -> PostgreSQL row latency at 50 writes/s
//	go run ./hack/bench -scenarios lag        # how long a GET on another replica shows older state
//	go run ./hack/bench -scenarios revoke     # SCIM removal/deactivation -> RoleBinding, at 50 changes/s
//	go run ./hack/bench -scenarios memory,paging -users 100000   # `roster manager` as its own process
//	go run ./hack/bench -scenarios memory -roster-src /tmp/old   # the same, built from another checkout
//
// memory and paging run `roster manager` as a separate process (built from -roster-src, or
// -roster-bin) with the admission webhook installed and served, so that its RSS is its own; they
// cannot be combined with the other scenarios, which run Roster inside the bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/controlplane"
	"github.com/rosterhq/roster/internal/token"
)

type config struct {
	n           int
	concurrency int
	users       int
	teamSize    int
	putRounds   int
	storeRate   int
	storeWrites int
	storeTeams  int
	// revokeChanges is how many member removals and deactivations the revoke scenario times.
	revokeChanges int

	// rosterSrc and rosterBin choose the manager the memory and paging scenarios run.
	rosterSrc, rosterBin string
	// heapProfile, if set, is where the memory scenario saves the manager's heap profile at rest.
	heapProfile string
	// storeResync, if set, is the manager's --store-resync-interval (how often every team's
	// memberships are compared with the identity store), to measure what a resync costs.
	storeResync time.Duration
	// memoryLimit, if set, is the container memory limit (bytes) the manager is told about, as
	// the Deployment tells it: it sets Go's soft memory limit from it.
	memoryLimit int64
	// restartEnv is added to the manager's environment by the restart scenario.
	restartEnv []string
	// loadConcurrency is how many SCIM clients load the memory scenario's org.
	loadConcurrency int
	// settle is how long the memory scenario waits at rest, and after each phase.
	settle time.Duration
	// importTimeout bounds the Okta-style import (a slow server reports how far it got).
	importTimeout time.Duration
	// writeRate and writeFor shape the memory scenario's mixed write load.
	writeRate int
	writeFor  time.Duration
	// pagingSamples and pagingTime bound each paging measure.
	pagingSamples int
	pagingTime    time.Duration
	// putProfile, if set, is where the groups scenario writes a CPU profile of the bench
	// process during its big PUT only.
	putProfile string
	// putAllocProfile: the bench process's heap profile before and after the first big PUT.
	putAllocProfile string
	// apiserverProfile, if set, is where the groups scenario writes kube-apiserver's CPU
	// profile of 30 s from the start of its big PUT.
	apiserverProfile string
}

// bench is the shared state of a run: the control plane, a direct client and a Roster.
type bench struct {
	cfg     config
	rest    *rest.Config
	client  client.Client
	roster  *app.Roster
	baseURL string
	rows    [][]string

	// manager is the `roster manager` process of the memory and paging scenarios.
	manager *managerProc
	// loaded is their shared org, once loaded.
	loaded   *loadedOrg
	cleanups []func()
}

func main() {
	var cfg config
	scenarios := flag.String("scenarios", "post,filter,groups", "comma-separated scenarios: post, filter, groups, lag (GET on another replica), revoke (SCIM change -> RoleBinding), store (PostgreSQL; run it alone), memory, paging and restart (roster manager as its own process; only with each other; restart stops and starts the loaded manager, last)")
	flag.IntVar(&cfg.n, "n", 2000, "objects created per side in the post scenario")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "concurrent writers in the post scenario")
	flag.IntVar(&cfg.users, "users", 100000, "users loaded for the filter and groups scenarios")
	flag.IntVar(&cfg.teamSize, "team-size", 100000, "members of the big team in the groups scenario")
	flag.IntVar(&cfg.putRounds, "put-rounds", 3, "groups: PUTs of every member timed (each onto the emptied team); the median is reported")
	flag.IntVar(&cfg.storeRate, "store-rate", 50, "SCIM writes per second in the store scenario")
	flag.IntVar(&cfg.storeWrites, "store-writes", 1500, "measured SCIM writes in the store scenario")
	flag.IntVar(&cfg.revokeChanges, "revoke-changes", 300, "member removals and user deactivations timed in the revoke scenario (at -store-rate)")
	flag.IntVar(&cfg.storeTeams, "store-teams", 10, "teams the store scenario's member adds spread over (1: one hot team)")
	flag.StringVar(&cfg.rosterSrc, "roster-src", ".", "memory, paging: source directory `roster manager` is built from (an older checkout measures \"before\")")
	flag.StringVar(&cfg.rosterBin, "roster-bin", "", "memory, paging: run this roster binary instead of building one")
	flag.StringVar(&cfg.heapProfile, "heap-profile", "", "memory: save the manager's heap profile at rest to this file (runs it with --pprof-bind-address)")
	flag.IntVar(&cfg.loadConcurrency, "load-concurrency", 32, "memory, paging: SCIM clients loading the org")
	flag.DurationVar(&cfg.settle, "settle", 30*time.Second, "memory: time at rest before measuring, and after each phase")
	flag.DurationVar(&cfg.importTimeout, "import-timeout", 10*time.Minute, "memory: the Okta-style import stops (and says how far it got) after this long")
	flag.IntVar(&cfg.writeRate, "write-rate", 100, "memory: requests per second of the mixed write load")
	flag.DurationVar(&cfg.writeFor, "write-for", time.Minute, "memory: duration of the mixed write load")
	flag.IntVar(&cfg.pagingSamples, "paging-samples", 200, "paging: most requests per measure")
	flag.DurationVar(&cfg.pagingTime, "paging-time", 20*time.Second, "paging: most time per measure (at least 2 requests)")
	restartEnv := flag.String("restart-env", "", "restart: space-separated NAME=value pairs added to the restarted manager's environment (e.g. GOGC=50)")
	memoryLimit := flag.String("memory-limit", "", "memory, paging: tell the manager its container's memory limit (e.g. 512Mi), as config/manager does: Go's soft limit becomes 90 % of it")
	flag.DurationVar(&cfg.storeResync, "store-resync-interval", 0, "memory, paging: the manager's --store-resync-interval (0: its default, 5m), e.g. shorter than -settle to measure a resync at rest")
	flag.StringVar(&cfg.putProfile, "put-cpuprofile", "", "groups: write a CPU profile of the bench process during the big PUT only (not with -cpuprofile)")
	flag.StringVar(&cfg.putAllocProfile, "put-allocprofile", "", "groups: write the bench process's heap profile before (FILE.before) and after the big PUT (FILE); compare with go tool pprof -sample_index=alloc_space -diff_base FILE.before FILE")
	flag.StringVar(&cfg.apiserverProfile, "apiserver-cpuprofile", "", "groups: write kube-apiserver's CPU profile of the 30 s from the start of the big PUT to this file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the bench process (SCIM server included) to this file")
	flag.Parse()
	cfg.restartEnv = strings.Fields(*restartEnv)
	if *memoryLimit != "" {
		q, err := resource.ParseQuantity(*memoryLimit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -memory-limit:", err)
			os.Exit(2)
		}
		cfg.memoryLimit = q.Value()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			stopProfile = pprof.StopCPUProfile
		}
	}
	ctrl.SetLogger(zap.New(zap.Level(zapcore.ErrorLevel)))
	if err := run(cfg, strings.Split(*scenarios, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		exitCode = 1
	}
	stopProfile()
	os.Exit(exitCode)
}

var (
	exitCode    int
	stopProfile = func() {}
)

func run(cfg config, scenarios []string) error {
	external := 0
	for _, s := range scenarios {
		if s = strings.TrimSpace(s); s == "memory" || s == "paging" || s == "restart" {
			external++
		}
	}
	if external > 0 && external < len(scenarios) {
		return fmt.Errorf("memory, paging and restart run roster manager as its own process: run them without the other scenarios")
	}
	env, err := controlplane.New("")
	if err != nil {
		return err
	}
	if external > 0 {
		// The manager process serves the admission webhook, as in a cluster.
		if err := controlplane.InstallWebhook(env); err != nil {
			return err
		}
	}
	restCfg, err := env.Start()
	if err != nil {
		return err
	}
	defer env.Stop() //nolint:errcheck
	restCfg.QPS, restCfg.Burst = 5000, 10000

	b := &bench{cfg: cfg, rest: restCfg}
	defer func() {
		for i := len(b.cleanups) - 1; i >= 0; i-- {
			b.cleanups[i]()
		}
	}()
	if b.client, err = client.New(restCfg, client.Options{Scheme: app.NewScheme()}); err != nil {
		return err
	}
	rosterNS := &corev1.Namespace{}
	rosterNS.Name = token.DefaultNamespace // where the token Secrets are
	if err := b.client.Create(context.Background(), rosterNS); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if external > 0 {
		if b.manager, err = b.startManager(ctx, env); err != nil {
			return err
		}
		b.baseURL = b.manager.scimURL
	} else if err := b.startInProcess(ctx); err != nil {
		return err
	}

	for _, s := range scenarios {
		start := time.Now()
		var err error
		switch strings.TrimSpace(s) {
		case "post":
			err = b.post(ctx)
		case "filter":
			err = b.filter(ctx)
		case "groups":
			err = b.groups(ctx)
		case "store":
			err = b.store(ctx)
		case "lag":
			err = b.lag(ctx)
		case "revoke":
			err = b.revoke(ctx)
		case "memory":
			err = b.memory(ctx)
		case "paging":
			err = b.paging(ctx)
		case "restart":
			err = b.restart(ctx)
		default:
			err = fmt.Errorf("unknown scenario %q", s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		fmt.Fprintf(os.Stderr, "scenario %s done in %s\n", s, time.Since(start).Round(time.Second))
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tmeasure\tvalue\tgoal")
	for _, r := range b.rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

func (b *bench) record(scenario, measure, value, goal string) {
	b.rows = append(b.rows, []string{scenario, measure, value, goal})
	fmt.Fprintf(os.Stderr, "  %s: %s = %s\n", scenario, measure, value)
}

// startInProcess runs Roster inside the bench (every scenario but memory and paging).
func (b *bench) startInProcess(ctx context.Context) error {
	var err error
	b.roster, err = app.New(rest.CopyConfig(b.rest), app.Config{SCIMAddr: "127.0.0.1:0", MetricsAddr: "0", ProbeAddr: "0",
		Webhook: app.WebhookConfig{Disabled: true}}) // this control plane has no webhook installed
	if err != nil {
		return err
	}
	go func() { _ = b.roster.Manager.Start(ctx) }()
	<-b.roster.SCIM.Ready()
	b.baseURL = "http://" + b.roster.SCIM.Addr()
	return nil
}
