package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// gatedInformers hands out the cache's real informers, whose event handlers wait for gate
// before each event: the index's handler then lags the cache's sync as a slow one would.
type gatedInformers struct {
	cache.Informers
	gate chan struct{}
}

func (g gatedInformers) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	inf, err := g.Informers.GetInformer(ctx, obj, opts...)
	return gatedInformer{Informer: inf, gate: g.gate}, err
}

type gatedInformer struct {
	cache.Informer
	gate chan struct{}
}

func (g gatedInformer) AddEventHandler(h toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	return g.Informer.AddEventHandler(toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(o any, initial bool) { <-g.gate; h.OnAdd(o, initial) },
		UpdateFunc: func(o, n any) { <-g.gate; h.OnUpdate(o, n) },
		DeleteFunc: func(o any) { <-g.gate; h.OnDelete(o) },
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
	c, err := cache.New(env.Config, cache.Options{Scheme: app.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
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
	close(gate)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) { return x.HasSynced(), "index not synced" })
	p, err := x.SelectUsers(ns, order.Query{Sort: order.Created, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != n {
		t.Fatalf("synced index lists %d users, the apiserver holds %d", p.Total, n)
	}
}

// TestSelectAfterDeleteReadsOwn: a page selected right after a delete on the same replica no
// longer lists the deleted user or team, though the index's handler runs after the cache's.
func TestSelectAfterDeleteReadsOwn(t *testing.T) {
	ctx := context.Background()
	a, _, org := replicas(t)
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
	for i := range 10 {
		u, err := a.CreateUser(ctx, org, v1alpha1.OrgUserSpec{UserName: fmt.Sprintf("gone%d@example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		team, err := a.CreateTeam(ctx, org, fmt.Sprintf("Gone %d", i), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.DeleteUser(ctx, ns, u.Name, nil); err != nil {
			t.Fatal(err)
		}
		if p, err := a.SelectUsers(ctx, ns, q); err != nil || listed(p, u.Name) {
			t.Fatalf("round %d: the page right after the delete lists %s (%v)", i, u.Name, err)
		}
		if err := a.DeleteTeam(ctx, ns, team.Name, nil); err != nil {
			t.Fatal(err)
		}
		if p, err := a.SelectTeams(ctx, ns, q); err != nil || listed(p, team.Name) {
			t.Fatalf("round %d: the page right after the delete lists %s (%v)", i, team.Name, err)
		}
	}
}
