package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/controllers"
	"github.com/rosterhq/roster/internal/cachescan"
	"github.com/rosterhq/roster/internal/cachetrim"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/identitystore/lazy"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	rostermetrics "github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/shard"
	"github.com/rosterhq/roster/internal/slimuser"
	"github.com/rosterhq/roster/internal/token"
	"github.com/rosterhq/roster/webhook/admission"
	"github.com/rosterhq/roster/webhook/scim"
)

// Config is what `roster manager` and `roster dev` configure.
type Config struct {
	// Namespace is Roster's own namespace: token Secrets live there and nowhere else
	// (internal/token). Empty: token.DefaultNamespace.
	Namespace string
	// SCIMAddr is where the SCIM server listens.
	SCIMAddr string
	// MetricsAddr serves Prometheus metrics ("0" disables).
	MetricsAddr string
	// MetricsInsecure serves metrics over plain HTTP to anyone who can connect (`roster dev`).
	// Otherwise they are served over HTTPS, and only to callers the apiserver authenticates
	// (TokenReview) and authorizes for GET /metrics (SubjectAccessReview).
	MetricsInsecure bool
	// MetricsCertDir holds tls.crt and tls.key for the metrics server ("": a self-signed
	// certificate generated at startup).
	MetricsCertDir string
	// ProbeAddr serves /healthz and /readyz ("0" disables).
	ProbeAddr string
	// PprofAddr serves Go's net/http/pprof profiles ("" or "0": off, the default). Only for
	// finding what holds memory or CPU (docs/operations.md, "Sizing"): it is unauthenticated.
	PprofAddr string
	// LeaderElection makes controllers run on one replica; SCIM serves on all.
	LeaderElection          bool
	LeaderElectionNamespace string
	// ExternalURL is the public scheme://host of the SCIM endpoint (optional).
	ExternalURL string
	// TrustedProxies are CIDRs whose X-Forwarded-* headers are believed.
	TrustedProxies []string
	// MaxUserBodyBytes and MaxGroupBodyBytes bound SCIM request bodies.
	MaxUserBodyBytes, MaxGroupBodyBytes int64
	// MaxBulkOperations and MaxBulkBodyBytes bound a SCIM /Bulk request (0: the defaults).
	MaxBulkOperations int
	MaxBulkBodyBytes  int64
	// TokenMaxAge is the token age past which Organizations warn (TokenFresh=False); 0 never.
	TokenMaxAge time.Duration
	// SCIMLog receives the SCIM server's request and audit logs (default: ctrl.Log).
	SCIMLog *logr.Logger
	// RateLimit and RateBurst bound SCIM requests per organization (0 disables).
	RateLimit float64
	RateBurst int
	// ActivityInterval is how often each organization's status.lastRequestTime is written
	// (0: every minute; negative: never).
	ActivityInterval time.Duration
	// SyncPeriod is the cache's periodic resync.
	SyncPeriod time.Duration
	// Webhook configures the validating admission webhook (webhook/admission).
	Webhook WebhookConfig
	// IdentityStore is the URL of the downstream identity store (sqlite:// or postgres://).
	// Empty runs no OrgUser and OrgTeam controllers: only for tests of the SCIM server alone;
	// the commands always set it.
	IdentityStore string
	// MemberSliceCapacity overrides the most members per OrgTeamMemberSlice (0: the API's
	// MaxMembersPerSlice). Tests lower it to make multi-slice changes with few users.
	MemberSliceCapacity int
	// MemberSliceWriters is how many slice writes of one membership commit run at once (0:
	// membership's default). The big-team benchmark compares 1 with the default.
	MemberSliceWriters int
	// StoreResyncInterval is how often every team's memberships are compared with the store
	// (0: controllers.DefaultStoreResyncInterval; negative: never).
	StoreResyncInterval time.Duration
	// ShutdownDrainDelay is how long a stopping replica keeps serving SCIM with /readyz
	// failing, so that the Service stops sending it requests first (0: none, as in `roster
	// dev` and tests).
	ShutdownDrainDelay time.Duration
	// ShutdownTimeout bounds how long SCIM requests and membership commits in flight may take
	// once the SCIM listener is closed (0: scim.DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Organizations is a label selector on Organizations: the replica serves and caches only
	// the organizations it selects (internal/shard). Empty: every organization.
	Organizations string
	// Identity names this replica in the shard's restart turn (internal/shard.Watcher); it
	// must survive a container restart. Empty: the host name (the pod's name).
	Identity string
	// ShardRestartDelay bounds the random delay before a shard's replica restarts for a new
	// set of organizations (0: shard.DefaultMaxDelay).
	ShardRestartDelay time.Duration
	// APIServerCompression lets the apiserver gzip its answers to Roster: reads and lists over
	// 128 KB and, since Kubernetes 1.37, watch-list streams. Off by default (see New).
	APIServerCompression bool
}

// LeaderElectionID is the controllers' Lease of an unsharded install; each shard derives its
// own from it (shard.Shard.LeaderElectionID).
const LeaderElectionID = "roster-controllers.scim.roster.dev"

// stopMargin is what the manager's graceful shutdown allows beyond the SCIM server's drain and
// shutdown timeout: the controllers' last reconciles, the caches, then the webhook server,
// which stops last (config/manager/manager.yaml sizes terminationGracePeriodSeconds on it).
const stopMargin = 10 * time.Second

// GracefulShutdownTimeout is how long the manager of cfg may take to stop once its context
// is cancelled: the SCIM drain delay, its shutdown timeout and stopMargin.
func (cfg Config) GracefulShutdownTimeout() time.Duration {
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = scim.DefaultShutdownTimeout
	}
	return cfg.ShutdownDrainDelay + timeout + stopMargin
}

// WebhookConfig configures the admission webhook server. It serves on every replica, not
// only the leader: the ValidatingWebhookConfiguration fails closed, so every replica the
// Service routes to must answer.
type WebhookConfig struct {
	// Disabled runs no webhook server. Only for envtest runs that do not install the
	// webhook configuration; in a cluster the configuration (failurePolicy Fail) would then
	// refuse every write of OrgUsers, OrgTeams and OrgTeamMemberSlices.
	Disabled bool
	// Host and Port are where the webhook server listens (Port 0: 9443, controller-runtime's).
	Host string
	Port int
	// CertDir holds tls.crt and tls.key ("": controller-runtime's default,
	// <tmp>/k8s-webhook-server/serving-certs, where config/ mounts cert-manager's Secret).
	CertDir string
	// SCIMIdentities are the usernames allowed to write what SCIM owns. Empty: the manager's
	// own user, asked from the apiserver at startup (admission.SelfIdentity).
	SCIMIdentities []string
	// Log receives the webhook's lines, denials included (default: ctrl.Log's "admission").
	Log *logr.Logger
	// BreakGlassGroup is the group whose members may edit SCIM-managed teams in an emergency
	// (docs/operations.md, "Break-glass edits"); empty disables break-glass.
	BreakGlassGroup string
}

// Roster is an assembled manager and its SCIM server.
type Roster struct {
	Manager manager.Manager
	SCIM    *scim.Server
	// Directory is what the SCIM server reads and writes users and teams through.
	Directory *directory.Directory
	// Store is the identity store the controllers write to; nil without one.
	Store *lazy.Store
}

// New builds the manager. Token Secrets are the only Secrets cached, from Roster's namespace
// only: Roster may read no other Secret.
func New(restCfg *rest.Config, cfg Config) (*Roster, error) {
	if restCfg.QPS == 0 && restCfg.RateLimiter == nil {
		// client-go's default is 5 requests/s (bursts of 10) per process: a bulk push would
		// queue behind it. Like controller-runtime's GetConfig, rely on the apiserver's API
		// Priority and Fairness instead.
		restCfg = rest.CopyConfig(restCfg)
		restCfg.QPS = -1
	}
	if !cfg.APIServerCompression && !restCfg.DisableCompression {
		// Gzip costs CPU on both ends and saves only bandwidth, which a pod talking to its own
		// cluster's apiserver has plenty of (kube-controller-manager and kube-scheduler turn
		// it off for the same reason). Since Kubernetes 1.37 it also covers watch-list
		// streams: an informer's first watch after it starts or relists (5 to 10 minutes)
		// came gzipped event by event, so a large push right after a rollout paid for every
		// slice twice more (docs/benchmarks.md, "PUT of 100,000 members, tenth session").
		restCfg = rest.CopyConfig(restCfg)
		restCfg.DisableCompression = true
	}
	if cfg.Namespace == "" {
		cfg.Namespace = token.DefaultNamespace
	}
	tokenSecrets := labels.SelectorFromSet(labels.Set{token.SecretLabel: "true"})
	var syncPeriod *time.Duration
	if cfg.SyncPeriod > 0 {
		syncPeriod = &cfg.SyncPeriod
	}
	if cfg.ShutdownDrainDelay < 0 || cfg.ShutdownTimeout < 0 {
		return nil, fmt.Errorf("the shutdown drain delay (%s) and timeout (%s) must not be negative", cfg.ShutdownDrainDelay, cfg.ShutdownTimeout)
	}
	// The runnables stop in order (controller-runtime): SCIM (draining, then finishing its
	// requests), the controllers, the caches, the webhook server, the probes.
	stopTimeout := cfg.GracefulShutdownTimeout()
	live, err := client.New(restCfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	sh, err := shard.Load(context.Background(), live, cfg.Organizations)
	if err != nil {
		return nil, err
	}
	cacheOpts := cache.Options{
		SyncPeriod: syncPeriod,
		// Token Secrets are all in Roster's namespace, and Roster may read Secrets there only.
		// Of the cluster's RoleBindings and ClusterRoleBindings only those Roster renders.
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:             {Label: tokenSecrets, Namespaces: map[string]cache.Config{cfg.Namespace: {}}},
			&rbacv1.RoleBinding{}:        {Label: controllers.RenderedSelector()},
			&rbacv1.ClusterRoleBinding{}: {Label: controllers.RenderedSelector()},
		},
	}
	// managedFields are the largest part of a cached object (two field sets, one per writer)
	// and Roster never reads them: they are stripped from every cached object. Updates from a
	// cached copy stay safe: an update without managedFields keeps the stored ones. Strings
	// repeated across objects (namespace, label keys and values, condition texts) share one
	// copy, and so do small equal labels maps (internal/cachetrim). OrgUsers, the bulk of the
	// cache, are then held in compact form: one immutable encoding of ~250 B and a few
	// metadata fields instead of a ~1.7 KiB struct; the cache's copying Get and List decode
	// them into OrgUsers, readers of the cached objects themselves (event handlers, the
	// ordered index, scans) read them through internal/slimuser.
	slimuser.CacheOptions(&cacheOpts)
	// A shard caches its organizations' namespaces and objects only.
	sh.Restrict(&cacheOpts, cfg.Namespace, controllers.RenderedSelector())
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                  NewScheme(),
		Metrics:                 metricsOptions(cfg),
		HealthProbeBindAddress:  cfg.ProbeAddr,
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        sh.LeaderElectionID(LeaderElectionID),
		LeaderElectionNamespace: cfg.LeaderElectionNamespace,
		// A stopping leader hands its Lease over at once instead of letting it expire: the
		// process exits as soon as the manager returns (internal/cli).
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &stopTimeout,
		PprofBindAddress:              cfg.PprofAddr,
		Cache:                         cacheOpts,
		// Counting an organization walks the cache's stores in place, also in a shard's
		// multi-namespace cache, whose informers expose no store (internal/cachescan).
		NewCache: cachescan.NewCache,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: cfg.Webhook.Host, Port: cfg.Webhook.Port, CertDir: cfg.Webhook.CertDir,
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	if err := index.Register(context.Background(), mgr.GetCache()); err != nil {
		return nil, fmt.Errorf("registering indexes: %w", err)
	}
	// The shared-namespace guard must see every Organization; a shard's cache holds its own.
	allOrgs := mgr.GetCache()
	if sh != nil {
		allOrgs, err = shard.Organizations(context.Background(), restCfg, cache.Options{Scheme: mgr.GetScheme(),
			Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(), SyncPeriod: syncPeriod,
			DefaultTransform: cachetrim.Transform})
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(shard.CacheRunnable{Cache: allOrgs}); err != nil {
			return nil, err
		}
	}
	// One membership store per process: its group commit batches only the changes that go
	// through it, and the SCIM server and the controllers share it.
	// How far the cache has got per kind: reads wait there for this replica's own writes,
	// membership fences for a team's watermark.
	var progress [3]*cachewatch.Progress
	for i, obj := range []client.Object{&rosterv1.OrgUser{}, &rosterv1.OrgTeam{}, &rosterv1.OrgTeamMemberSlice{}} {
		track := cachewatch.Track
		if sh != nil {
			track = cachewatch.TrackPerNamespace // one watch per namespace
		}
		if progress[i], err = track(context.Background(), mgr.GetCache(), obj); err != nil {
			return nil, err
		}
	}
	// The orders lists page through, kept from the same informers (internal/order).
	ordered, err := order.Track(context.Background(), mgr.GetCache(), sh != nil)
	if err != nil {
		return nil, err
	}
	sliceWrites, err := membership.NewMetadataSliceWriter(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	members := &membership.Store{Cache: mgr.GetClient(), UserCache: mgr.GetCache(), API: mgr.GetAPIReader(), Writer: mgr.GetClient(),
		SliceWrites: sliceWrites,
		Capacity:    cfg.MemberSliceCapacity, SliceWriters: cfg.MemberSliceWriters, SliceProgress: progress[2]}
	dir, err := directory.New(directory.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Members: members,
		Users: progress[0], Teams: progress[1], Slices: progress[2], Order: ordered, Finalizer: storeFinalizer(cfg)})
	if err != nil {
		return nil, err
	}
	srv, err := scim.New(scim.Options{
		Addr:              cfg.SCIMAddr,
		Client:            mgr.GetClient(),
		TokenNamespace:    cfg.Namespace,
		Directory:         dir,
		Log:               scimLog(cfg),
		Recorder:          mgr.GetEventRecorderFor("roster-scim"),
		ExternalURL:       cfg.ExternalURL,
		TrustedProxies:    cfg.TrustedProxies,
		MaxUserBodyBytes:  cfg.MaxUserBodyBytes,
		MaxGroupBodyBytes: cfg.MaxGroupBodyBytes,
		MaxBulkOperations: cfg.MaxBulkOperations,
		MaxBulkBodyBytes:  cfg.MaxBulkBodyBytes,
		RateLimit:         cfg.RateLimit,
		RateBurst:         cfg.RateBurst,
		ActivityInterval:  cfg.ActivityInterval,
		DrainDelay:        cfg.ShutdownDrainDelay,
		ShutdownTimeout:   cfg.ShutdownTimeout,
		// Group commits run apart from the requests that wait on them: the SCIM server's
		// shutdown waits for them too, and cuts them at its timeout.
		Commits: members,
		// Another shard's organization is answered like an unknown one.
		Serves:        sh.Serves,
		Organizations: allOrgs,
	})
	if err != nil {
		return nil, err
	}
	rostermetrics.RegisterCollectors(mgr.GetClient(), cfg.Namespace, cfg.TokenMaxAge)
	if err := mgr.Add(rostermetrics.LeaderRunnable{}); err != nil { // roster_leader
		return nil, err
	}
	if err := mgr.Add(srv); err != nil {
		return nil, err
	}
	store, events, err := addStoreControllers(mgr, cfg, members)
	if err != nil {
		return nil, err
	}
	if store != nil {
		// Upkeep of the leader, beside the controllers (which tests of the SCIM server alone
		// leave out): SCIM teams of an older Roster get their display-name claims.
		if err := mgr.Add(claimBackfill(dir, ctrl.Log.WithName("claims"))); err != nil {
			return nil, err
		}
	}
	if err := (&controllers.BreakGlassReconciler{
		Client: mgr.GetClient(), Members: members, Recorder: mgr.GetEventRecorderFor("roster-breakglass"),
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the break-glass controller: %w", err)
	}
	if err := (&controllers.AccessReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Members: members, Shard: sh,
		Recorder: mgr.GetEventRecorderFor("roster-access"),
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the TeamRoleBinding controllers: %w", err)
	}
	if err := (&controllers.OrganizationReconciler{
		Client:         mgr.GetClient(),
		AllOrgs:        allOrgs,
		Shard:          sh,
		TokenNamespace: cfg.Namespace,
		Recorder:       mgr.GetEventRecorderFor("roster-organization"),
		Store:          store,
		Events:         events,
		TokenMaxAge:    cfg.TokenMaxAge,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the Organization controller: %w", err)
	}
	if !cfg.Webhook.Disabled {
		if err := addWebhook(mgr, restCfg, cfg.Webhook, sh); err != nil {
			return nil, err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("cache", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("cache not synced")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if sh != nil {
		if err := addShardWatcher(mgr, live, cfg, sh, srv.Ready()); err != nil {
			return nil, err
		}
	}
	// Fails from the first moment of shutdown, while SCIM still serves (its drain delay).
	if err := mgr.AddReadyzCheck("scim", srv.ReadyzCheck); err != nil {
		return nil, err
	}
	return &Roster{Manager: mgr, SCIM: srv, Directory: dir, Store: store}, nil
}

// addWebhook registers the admission validators on the manager's webhook server (which the
// manager starts before its caches, on every replica) and makes /readyz wait for it.
func addWebhook(mgr manager.Manager, restCfg *rest.Config, cfg WebhookConfig, sh *shard.Shard) error {
	ids := cfg.SCIMIdentities
	if len(ids) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		self, err := admission.SelfIdentity(ctx, restCfg)
		if err != nil {
			return err
		}
		ids = []string{self}
	}
	log := ctrl.Log.WithName("admission")
	if cfg.Log != nil {
		log = *cfg.Log
	}
	log.Info("SCIM-owned objects are writable only by", "identities", ids)
	if cfg.BreakGlassGroup != "" {
		log.Info("break-glass edits of SCIM-managed teams are open to", "group", cfg.BreakGlassGroup)
	}
	srv := mgr.GetWebhookServer()
	if err := admission.Register(srv, mgr.GetScheme(), admission.Options{
		SCIMIdentities: ids,
		// Every shard's webhook validates every organization: one webhook configuration and
		// Service for the install. Outside its own namespaces a shard reads live.
		Cache:           shard.Reader{Shard: sh, Cache: mgr.GetClient(), API: mgr.GetAPIReader()},
		APIReader:       mgr.GetAPIReader(),
		Log:             log,
		BreakGlassGroup: cfg.BreakGlassGroup,
		Recorder:        mgr.GetEventRecorderFor("roster-admission"),
	}); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("webhook", srv.StartedChecker())
}

func scimLog(cfg Config) logr.Logger {
	if cfg.SCIMLog != nil {
		return *cfg.SCIMLog
	}
	return ctrl.Log.WithName("scim")
}

// The metrics filter asks the apiserver who a scraper is and whether it may GET /metrics.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// metricsOptions serves metrics over HTTPS to authenticated and authorized scrapers (a
// ServiceAccount bound to the ClusterRole roster-metrics-reader), unless cfg says plain HTTP. Metrics
// name organizations, and a plain HTTP endpoint anyone in the cluster can reach would tell
// them every tenant and its traffic.
func metricsOptions(cfg Config) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: cfg.MetricsAddr}
	if cfg.MetricsInsecure || cfg.MetricsAddr == "0" {
		return opts
	}
	opts.SecureServing, opts.CertDir = true, cfg.MetricsCertDir
	opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	return opts
}

// claimBackfill runs directory.BackfillClaims once on the leader, retrying until it
// succeeds. Its failure stops nothing: the directory counts a SCIM team without a claim as the
// holder of its name anyway.
func claimBackfill(dir *directory.Directory, log logr.Logger) manager.Runnable {
	return manager.RunnableFunc(func(ctx context.Context) error {
		wait := time.Second
		for {
			n, err := dir.BackfillClaims(ctx)
			if err == nil {
				if n > 0 {
					log.Info("claimed the display names of SCIM teams that had no OrgTeamNameClaim", "teams", n)
				}
				return nil
			}
			log.Error(err, "backfilling display-name claims; retrying", "in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Minute)
		}
	})
}

// addShardWatcher restarts the replica, one of the shard's replicas at a time, when the set of
// organizations its selector picks changes (internal/shard). The turn to restart is a Lease
// beside the shard's leader election Lease; a replica hands it back once it serves SCIM again.
func addShardWatcher(mgr manager.Manager, live client.Client, cfg Config, sh *shard.Shard, serving <-chan struct{}) error {
	id := cfg.Identity
	if id == "" {
		var err error
		if id, err = os.Hostname(); err != nil {
			return fmt.Errorf("naming this replica: %w", err)
		}
	}
	ns := cfg.LeaderElectionNamespace
	if ns == "" {
		ns = cfg.Namespace
	}
	w := &shard.Watcher{Shard: sh, Cache: mgr.GetCache(), API: live, Namespace: ns, Name: sh.RestartLeaseName(LeaderElectionID),
		Identity: id, Log: ctrl.Log.WithName("shard"), MaxDelay: cfg.ShardRestartDelay, Serving: serving}
	ctrl.Log.WithName("shard").Info("serving only the organizations the selector picks", "selector", sh.Selector(), "organizations", sh.Orgs())
	if err := mgr.Add(w); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("shard", w.ReadyzCheck)
}
