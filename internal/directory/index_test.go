package directory_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/cachewatch"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/index"
	"github.com/rosterhq/roster/internal/membership"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/slimuser"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// gatedInformers hands out the cache's real informers, whose event handlers wait for gate
// before each event (with deletesOnly, before each event of a deletion): the index's handler
// then lags the cache's store as a slow one would, for as long as the test says.
type gatedInformers struct {
	cache.Informers
	gate        *gate
	deletesOnly bool
}

// gate is a latch that held events wait on: open lets them through, shut holds the next ones.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) wait() {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	<-ch
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
	default:
		close(g.ch)
	}
}

func (g *gate) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
		g.ch = make(chan struct{})
	default:
	}
}

func (g gatedInformers) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	inf, err := g.Informers.GetInformer(ctx, obj, opts...)
	return gatedInformer{Informer: inf, gate: g.gate, deletesOnly: g.deletesOnly}, err
}

type gatedInformer struct {
	cache.Informer
	gate        *gate
	deletesOnly bool
}

func (g gatedInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	wait := func(deleting bool) {
		if deleting || !g.deletesOnly {
			g.gate.wait()
		}
	}
	terminating := func(o any) bool { obj, ok := o.(client.Object); return ok && obj.GetDeletionTimestamp() != nil }
	return g.Informer.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(o any, initial bool) { wait(terminating(o)); h.OnAdd(o, initial) },
		UpdateFunc: func(o, n any) { wait(terminating(n)); h.OnUpdate(o, n) },
		DeleteFunc: func(o any) { wait(true); h.OnDelete(o) },
	})
}

// TestIndexSyncedAfterInitialList: the index is synced only once its handler has applied the
// informers' initial lists, not when the cache has synced (the SCIM server waits on it before
// serving a list after a restart).
func TestIndexSyncedAfterInitialList(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := env.NewOrg(t, "idx").Namespace
	const n = 5
	for i := range n {
		name := fmt.Sprintf("idx%d@example.com", i)
		u := &v1alpha1.OrgUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: naming.UserObjectName(name)},
			Spec: v1alpha1.OrgUserSpec{UserName: name}}
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	c, err := cache.New(env.Config, managerCacheOptions())
	if err != nil {
		t.Fatal(err)
	}
	gate := newGate()
	defer gate.open()
	x, err := order.Track(ctx, gatedInformers{Informers: c, gate: gate}, false)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	if x.HasSynced() {
		t.Fatal("the index says synced while its handler has applied nothing of the initial list")
	}
	gate.open()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return x.HasSynced(), "index not synced" })
	p, err := x.SelectUsers(ns, order.Query{Sort: order.Created, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != n {
		t.Fatalf("synced index lists %d users, the apiserver holds %d", p.Total, n)
	}
}

// goneWatch is a cache-backed client that counts the Gets of one object (watch) that find it
// gone from the cache (missing or terminating), and calls onGone with the count. A DELETE's
// wait polls the cache this way: a second such Get means it is still waiting once the cache
// already shows the delete.
type goneWatch struct {
	client.Client
	mu     sync.Mutex
	watch  client.ObjectKey
	n      int
	onGone func(n int)
}

func (g *goneWatch) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := g.Client.Get(ctx, key, obj, opts...)
	if !apierrors.IsNotFound(err) && (err != nil || obj.GetDeletionTimestamp() == nil) {
		return err
	}
	g.mu.Lock()
	var onGone func(int)
	if key == g.watch && g.onGone != nil {
		g.n++
		onGone = g.onGone
	}
	n := g.n
	g.mu.Unlock()
	if onGone != nil {
		onGone(n)
	}
	return err
}

// arm starts counting the gone Gets of key, reporting them to onGone.
func (g *goneWatch) arm(key client.ObjectKey, onGone func(n int)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.watch, g.n, g.onGone = key, 0, onGone
}

// laggingDirectory returns a Directory over a cache of its own whose ordered index applies
// deletions only while the returned gate is open (it starts shut), and the client it reads
// the cache with.
func laggingDirectory(t *testing.T) (*directory.Directory, *goneWatch, *gate) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := cache.New(env.Config, managerCacheOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := index.Register(ctx, c); err != nil {
		t.Fatal(err)
	}
	var progress [3]*cachewatch.Progress
	for i, obj := range []client.Object{&v1alpha1.OrgUser{}, &v1alpha1.OrgTeam{}, &v1alpha1.OrgTeamMemberSlice{}} {
		if progress[i], err = cachewatch.Track(ctx, c, obj); err != nil {
			t.Fatal(err)
		}
	}
	gate := newGate()
	t.Cleanup(gate.open) // runs before cancel: no handler stays blocked
	x, err := order.Track(ctx, gatedInformers{Informers: c, gate: gate, deletesOnly: true}, false)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return x.HasSynced(), "index not synced" })
	cached, err := client.New(env.Config, client.Options{Scheme: app.NewScheme(), Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.New(env.Config, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	watch := &goneWatch{Client: cached}
	members := &membership.Store{Cache: cached, API: api, Writer: cached, SliceProgress: progress[2]}
	d, err := directory.New(directory.Options{Client: watch, APIReader: api, Members: members,
		Users: progress[0], Teams: progress[1], Slices: progress[2], Order: x})
	if err != nil {
		t.Fatal(err)
	}
	return d, watch, gate
}

// TestSelectAfterDeleteReadsOwn: a page selected right after a DELETE on the same replica no
// longer lists the deleted user or team, though the index applies the deletion after the
// cache's store has it. The index is held back deterministically: its handler applies the
// deletion only once the DELETE has looked at the cache a second time after the cache showed
// it gone — i.e. only while the DELETE is still waiting for the index. A DELETE that answers
// as soon as the cache shows it gone answers while the index still lists the resource, and the
// page right after it shows the resource.
func TestSelectAfterDeleteReadsOwn(t *testing.T) {
	ctx := context.Background()
	d, watch, gate := laggingDirectory(t)
	o := env.NewOrg(t, "gone")
	org := &v1alpha1.Organization{}
	org.Name, org.Spec.Namespace = o.Name, o.Namespace
	ns := org.Spec.Namespace
	listed := func(p order.Page, id string) bool {
		for _, e := range p.Entries {
			if e.Name == id {
				return true
			}
		}
		return false
	}
	q := order.Query{Sort: order.Created, Count: 1000}
	// A held deletion is let through once the DELETE shows it waits for the index.
	waiting := func(n int) {
		if n >= 2 {
			gate.open()
		}
	}

	u, err := d.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: "gone@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	team, err := d.CreateTeam(ctx, org, "Gone", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Read-your-writes: the pages right after the creates list both (the index holds them).
	if p, err := d.SelectUsers(ctx, ns, q); err != nil || !listed(p, u.Name) {
		t.Fatalf("the page right after the create does not list %s (%v)", u.Name, err)
	}
	if p, err := d.SelectTeams(ctx, ns, q); err != nil || !listed(p, team.Name) {
		t.Fatalf("the page right after the create does not list %s (%v)", team.Name, err)
	}

	watch.arm(client.ObjectKeyFromObject(u), waiting)
	if err := d.DeleteUser(ctx, ns, u.Name, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := d.SelectUsers(ctx, ns, q); err != nil || listed(p, u.Name) {
		t.Fatalf("the page right after the DELETE lists user %s (%v)", u.Name, err)
	}
	gate.shut()
	watch.arm(client.ObjectKeyFromObject(team), waiting)
	if err := d.DeleteTeam(ctx, ns, team.Name, nil); err != nil {
		t.Fatal(err)
	}
	if p, err := d.SelectTeams(ctx, ns, q); err != nil || listed(p, team.Name) {
		t.Fatalf("the page right after the DELETE lists team %s (%v)", team.Name, err)
	}
}

// managerCacheOptions are the options of a cache built as the manager builds its own: the
// scheme and the transforms (users in compact form, internal/slimuser).
func managerCacheOptions() cache.Options {
	opts := cache.Options{Scheme: app.NewScheme()}
	slimuser.CacheOptions(&opts)
	return opts
}
