package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
)

// revoke measures how fast access goes: from sending the SCIM PATCH that removes a member
// from a group (or deactivates a user) until the RoleBindings rendered from the group's
// TeamRoleBinding (User mode) no longer name that person, as a watch of the RoleBindings sees
// it. The changes go at the store scenario's rate (open loop), alternating removals and
// deactivations, over ten teams, each bound by a TeamRoleBinding.
func (b *bench) revoke(ctx context.Context) error {
	o, err := b.newOrg(ctx, "bench-revoke")
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	role.Name = "bench-pod-reader"
	if err := b.client.Create(ctx, role); client.IgnoreAlreadyExists(err) != nil {
		return err
	}
	ref := rosterv1.RoleRef{Kind: "ClusterRole", Name: role.Name}
	var orgObj rosterv1.Organization
	if err := b.client.Get(ctx, client.ObjectKey{Name: o.name}, &orgObj); err != nil {
		return err
	}
	orgObj.Spec.Access = &rosterv1.AccessSpec{Subjects: rosterv1.SubjectsUser, AllowedRoles: []rosterv1.RoleRef{ref}}
	if err := b.client.Update(ctx, &orgObj); err != nil {
		return err
	}

	// Users: one per measured change, spread over the teams.
	c := b.scimClient(o)
	n := b.cfg.revokeChanges
	const teams = 10
	if err := c.createUsers(ctx, n); err != nil {
		return err
	}
	teamIDs := make([]string, teams)
	for t := range teamIDs {
		var members []map[string]string
		for i := t; i < n; i += teams {
			members = append(members, map[string]string{"value": naming.UserObjectName(userSpec(i).UserName)})
		}
		body, _ := json.Marshal(map[string]any{"displayName": fmt.Sprintf("Revoke bench %d", t), "members": members})
		status, resp, err := c.do(ctx, http.MethodPost, "/Groups", string(body))
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("create group: %d %s %v", status, resp, err)
		}
		var team struct{ ID string }
		if err := json.Unmarshal(resp, &team); err != nil {
			return err
		}
		teamIDs[t] = team.ID
		trb := &rosterv1.TeamRoleBinding{Spec: rosterv1.TeamRoleBindingSpec{Team: rosterv1.TeamRef{ID: team.ID}, RoleRef: ref}}
		trb.Name, trb.Namespace = fmt.Sprintf("team-%d", t), o.name
		if err := b.client.Create(ctx, trb); err != nil {
			return err
		}
	}

	// A watch of the rendered RoleBindings: which users they name, and when each stops.
	w, err := newSubjectWatch(ctx, b, o.name)
	if err != nil {
		return err
	}
	defer w.stop()
	if err := waitFor(ctx, 2*time.Minute, func() bool { return w.count() == n }); err != nil {
		return fmt.Errorf("warm-up: the RoleBindings name %d of %d users: %w", w.count(), n, err)
	}

	type sample struct {
		kind string
		d    time.Duration
		err  error
	}
	results := make([]sample, n)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(b.cfg.storeRate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &results[i]
			spec := userSpec(i)
			id := naming.UserObjectName(spec.UserName)
			gone := w.await(spec.UserName)
			var path, body string
			if i%2 == 0 {
				s.kind = "remove member"
				path = "/Groups/" + teamIDs[i%teams]
				body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, id)
			} else {
				s.kind = "deactivate user"
				path = "/Users/" + id
				body = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
			}
			sent := time.Now()
			status, resp, err := c.do(ctx, http.MethodPatch, path, body)
			if err == nil && status >= 300 {
				err = fmt.Errorf("PATCH %s: %d %s", path, status, resp)
			}
			if err != nil {
				s.err = err
				return
			}
			select {
			case at := <-gone:
				s.d = at.Sub(sent)
			case <-time.After(time.Minute):
				s.err = fmt.Errorf("%s still bound a minute after %s", spec.UserName, s.kind)
			}
		}()
	}
	wg.Wait()
	byKind := map[string][]time.Duration{}
	var all []time.Duration
	for _, s := range results {
		if s.err != nil {
			return s.err
		}
		byKind[s.kind] = append(byKind[s.kind], s.d)
		all = append(all, s.d)
	}
	label := fmt.Sprintf("revoke: SCIM PATCH -> RoleBinding no longer names the user, %d changes at %d/s", n, b.cfg.storeRate)
	b.record(label, "p50", pct(all, 50), "")
	b.record(label, "p99", pct(all, 99), "<= 1s")
	b.record(label, "max", pct(all, 100), "")
	for _, k := range []string{"remove member", "deactivate user"} {
		b.record(label, k+" p50 / p99", pct(byKind[k], 50)+" / "+pct(byKind[k], 99), "")
	}
	return nil
}

// subjectWatch follows the User subjects of the RoleBindings in a namespace.
type subjectWatch struct {
	mu      sync.Mutex
	bound   map[string]map[string]bool // user -> RoleBindings naming it
	waiters map[string]chan time.Time
	stop    func()
}

func newSubjectWatch(ctx context.Context, b *bench, namespace string) (*subjectWatch, error) {
	wc, err := client.NewWithWatch(b.rest, client.Options{Scheme: app.NewScheme()})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	wi, err := wc.Watch(ctx, &rbacv1.RoleBindingList{}, client.InNamespace(namespace))
	if err != nil {
		cancel()
		return nil, err
	}
	w := &subjectWatch{bound: map[string]map[string]bool{}, waiters: map[string]chan time.Time{},
		stop: func() { cancel(); wi.Stop() }}
	go func() {
		for ev := range wi.ResultChan() {
			rb, ok := ev.Object.(*rbacv1.RoleBinding)
			if !ok {
				continue
			}
			w.observe(rb, ev.Type == watch.Deleted, time.Now())
		}
	}()
	return w, nil
}

// observe records a RoleBinding's subjects and wakes the waiters of users no binding names.
func (w *subjectWatch) observe(rb *rbacv1.RoleBinding, deleted bool, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := map[string]bool{}
	if !deleted {
		for _, s := range rb.Subjects {
			now[s.Name] = true
		}
	}
	for user, in := range w.bound {
		if in[rb.Name] && !now[user] {
			delete(in, rb.Name)
			if len(in) == 0 {
				delete(w.bound, user)
				if ch, ok := w.waiters[user]; ok {
					ch <- at
					delete(w.waiters, user)
				}
			}
		}
	}
	for user := range now {
		if w.bound[user] == nil {
			w.bound[user] = map[string]bool{}
		}
		w.bound[user][rb.Name] = true
	}
}

// count is the number of users some RoleBinding names.
func (w *subjectWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.bound)
}

// await returns a channel that gets the time the user stops being named.
func (w *subjectWatch) await(user string) <-chan time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan time.Time, 1)
	if w.bound[user] == nil {
		ch <- time.Now()
		return ch
	}
	w.waiters[user] = ch
	return ch
}
