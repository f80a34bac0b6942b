// Package shard restricts a replica to the organizations a label selector picks (`roster
// manager --organizations`): it caches their namespaces only, serves SCIM for them only, runs
// its controllers under a leader election of its own, and restarts when the set it selects
// changes (watch.go).
//
// The set is fixed when the process starts: controller-runtime's cache takes its namespaces
// once (cache.Options.DefaultNamespaces). An organization created or relabelled into the
// shard after that is answered like an unknown one until the replica has restarted, which it
// does by itself, one replica of the shard at a time. One relabelled out of it is another
// shard's from then on: never taken for a deleted one (controllers.AccessReconciler).
package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/cacheopts"
)

// Shard is the set of organizations one Deployment serves, as selected when it started.
// A nil *Shard serves every organization (no --organizations: one install, one shard).
type Shard struct {
	selector labels.Selector
	// orgs maps each selected organization to its namespace.
	orgs map[string]string
}

// Load parses selector (a Kubernetes label selector on Organizations) and lists, from the
// apiserver, the organizations it selects. An empty selector returns nil: every organization.
func Load(ctx context.Context, api client.Reader, selector string) (*Shard, error) {
	if strings.TrimSpace(selector) == "" {
		return nil, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return nil, fmt.Errorf("--organizations %q is not a label selector: %w", selector, err)
	}
	if sel.Empty() {
		return nil, nil
	}
	var list rosterv1.OrganizationList
	if err := api.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, fmt.Errorf("listing the organizations %q selects: %w", selector, err)
	}
	return &Shard{selector: sel, orgs: orgNamespaces(list.Items)}, nil
}

// orgNamespaces maps each organization to its namespace.
func orgNamespaces(orgs []rosterv1.Organization) map[string]string {
	out := make(map[string]string, len(orgs))
	for i := range orgs {
		out[orgs[i].Name] = orgs[i].Spec.Namespace
	}
	return out
}

// Selector returns the label selector ("" for every organization).
func (s *Shard) Selector() string {
	if s == nil {
		return ""
	}
	return s.selector.String()
}

// Orgs returns the selected organizations' names, sorted.
func (s *Shard) Orgs() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.orgs))
}

// Serves reports whether this replica serves org: it was selected when the replica started,
// and still has the namespace it had then (the only one cached for it).
func (s *Shard) Serves(org *rosterv1.Organization) bool {
	if s == nil {
		return true
	}
	ns, ok := s.orgs[org.Name]
	return ok && ns == org.Spec.Namespace && s.selector.Matches(labels.Set(org.Labels))
}

// ServesName reports whether the organization called name was selected at start.
func (s *Shard) ServesName(name string) bool {
	if s == nil {
		return true
	}
	_, ok := s.orgs[name]
	return ok
}

// Namespaced reports whether namespace holds one of the shard's organizations, i.e. is in
// its cache.
func (s *Shard) Namespaced(namespace string) bool {
	if s == nil {
		return true
	}
	for _, ns := range s.orgs {
		if ns == namespace {
			return true
		}
	}
	return false
}

// LeaderElectionID returns the Lease name the shard's controllers elect their leader with
// (ElectionID of its selector; base for every organization).
func (s *Shard) LeaderElectionID(base string) string {
	if s == nil {
		return base
	}
	return ElectionID(s.selector, base)
}

// ElectionID derives a shard's leader election ID from base and a hash of its selector, so
// that each shard has its own leader and all shards' controllers run at once. The selector's
// canonical form is hashed: "b=2,a=1" and "a=1, b=2" are one shard.
func ElectionID(selector labels.Selector, base string) string {
	sum := sha256.Sum256([]byte(selector.String()))
	name, domain, _ := strings.Cut(base, ".")
	id := name + "-" + hex.EncodeToString(sum[:5])
	if domain != "" {
		id += "." + domain
	}
	return id
}

// RestartLeaseName returns the name of the Lease the shard's replicas take turns to restart
// with (Watcher), beside the leader election Lease LeaderElectionID(base) names.
func (s *Shard) RestartLeaseName(base string) string {
	name, _, _ := strings.Cut(s.LeaderElectionID(base), ".")
	return name + "-restart"
}

// Restrict narrows cache options to the shard: namespaced kinds to the selected
// organizations' namespaces (and ownNamespace, Roster's, so that the set is never empty,
// which would mean every namespace), Organizations to those the selector picks, and the
// RoleBindings and ClusterRoleBindings Roster renders (rendered, selected by label) to those
// of the selected organizations. Roles and the rendered RoleBindings stay cached in every
// namespace: a TeamRoleBinding renders into any namespace it selects, not only its org's.
// Entries already in opts.ByObject for other kinds are kept; those for these kinds are
// replaced (one entry per kind).
func (s *Shard) Restrict(opts *cache.Options, ownNamespace string, rendered labels.Selector) {
	if s == nil {
		return
	}
	opts.DefaultNamespaces = map[string]cache.Config{ownNamespace: {}}
	for _, ns := range s.orgs {
		opts.DefaultNamespaces[ns] = cache.Config{}
	}
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	ofOrgs := s.renderedOf(rendered)
	everywhere := map[string]cache.Config{cache.AllNamespaces: {}}
	// One entry per kind, replacing the caller's (cacheopts): the shard's settings win.
	setByObject := func(byObject map[client.Object]cache.ByObject, obj client.Object, cfg cache.ByObject) {
		cacheopts.Edit(byObject, obj, func(c *cache.ByObject) { *c = cfg })
	}
	setByObject(opts.ByObject, &rosterv1.Organization{}, cache.ByObject{Label: s.selector})
	setByObject(opts.ByObject, &rbacv1.RoleBinding{}, cache.ByObject{Label: ofOrgs, Namespaces: everywhere})
	setByObject(opts.ByObject, &rbacv1.ClusterRoleBinding{}, cache.ByObject{Label: ofOrgs})
	role := &metav1.PartialObjectMetadata{}
	role.SetGroupVersionKind(rbacv1.SchemeGroupVersion.WithKind("Role"))
	setByObject(opts.ByObject, role, cache.ByObject{Namespaces: everywhere})
}

// renderedOf narrows the selector of rendered bindings to those labelled with one of the
// shard's organizations.
func (s *Shard) renderedOf(rendered labels.Selector) labels.Selector {
	if len(s.orgs) == 0 {
		// "in ()" is not a selector; no label both exists and does not.
		none, _ := labels.NewRequirement(rosterv1.OrgLabel, selection.DoesNotExist, nil)
		some, _ := labels.NewRequirement(rosterv1.OrgLabel, selection.Exists, nil)
		return rendered.Add(*none, *some)
	}
	in, err := labels.NewRequirement(rosterv1.OrgLabel, selection.In, s.Orgs())
	if err != nil {
		// Organization names are DNS names and so valid label values.
		panic(err)
	}
	return rendered.Add(*in)
}
