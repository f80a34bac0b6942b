package config_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/shard"
)

// TestShardedOverlay renders config/sharded: two manager Deployments, each selecting its own
// organizations and electing its own leader, each behind its own SCIM Service that the one
// Ingress routes its organizations to; one install of everything else, whose webhook Service
// reaches both shards. The apiserver accepts every object.
func TestShardedOverlay(t *testing.T) {
	r := render(t, "sharded")
	def := render(t, "default")
	perShard := map[string]bool{"Deployment": true, "PodDisruptionBudget": true}
	count := func(r rendered) map[string]int {
		n := map[string]int{}
		for _, o := range r {
			if !perShard[o.GetKind()] && !(o.GetKind() == "Service" && strings.HasPrefix(o.GetName(), "roster-scim")) {
				n[o.GetKind()+"/"+o.GetName()]++
			}
		}
		return n
	}
	shared, defShared := count(r), count(def)
	for k := range defShared {
		if shared[k] != 1 {
			t.Errorf("%s: %d in config/sharded, want it once as in config/default", k, shared[k])
		}
	}
	for k := range shared {
		if defShared[k] == 0 {
			t.Errorf("%s is in config/sharded but not in config/default", k)
		}
	}

	type shardObjs struct {
		dep      *appsv1.Deployment
		selector labels.Selector
		scim     *corev1.Service
	}
	shards := map[string]shardObjs{}
	elections := map[string]string{}
	for _, s := range []string{"a", "b"} {
		dep := decode[appsv1.Deployment](t, r.get(t, "Deployment", "roster-controller-manager-shard-"+s))
		var sel labels.Selector
		for _, a := range dep.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(a, "--organizations="); ok {
				var err error
				if sel, err = labels.Parse(v); err != nil {
					t.Fatalf("shard %s: --organizations %q: %v", s, v, err)
				}
			}
		}
		if sel == nil || !sel.Matches(labels.Set{"roster.dev/shard": s}) {
			t.Fatalf("shard %s: --organizations %v does not select organizations labelled roster.dev/shard=%s", s, sel, s)
		}
		if dep.Spec.Template.Spec.ServiceAccountName != "roster-controller-manager" || r.find("ServiceAccount", "roster-controller-manager") == nil {
			t.Errorf("shard %s runs as ServiceAccount %q, want the install's roster-controller-manager", s, dep.Spec.Template.Spec.ServiceAccountName)
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName != "webhook-server-cert" {
				t.Errorf("shard %s mounts Secret %q, want the webhook certificate's webhook-server-cert", s, v.Secret.SecretName)
			}
		}
		id := shard.ElectionID(sel, app.LeaderElectionID)
		if other, ok := elections[id]; ok {
			t.Errorf("shards %s and %s share the leader election %s", other, s, id)
		}
		elections[id] = s
		shards[s] = shardObjs{dep: dep, selector: sel, scim: decode[corev1.Service](t, r.get(t, "Service", "roster-scim-shard-"+s))}
	}
	if shards["a"].selector.Matches(labels.Set{"roster.dev/shard": "b"}) || shards["b"].selector.Matches(labels.Set{"roster.dev/shard": "a"}) {
		t.Error("an organization is selected by both shards")
	}
	webhook := decode[corev1.Service](t, r.get(t, "Service", "roster-webhook-service"))
	for s, o := range shards {
		pods := o.dep.Spec.Template.Labels
		for s2, o2 := range shards {
			if got := selects(o2.scim.Spec.Selector, pods); got != (s == s2) {
				t.Errorf("SCIM Service of shard %s selects shard %s's pods: %v", s2, s, got)
			}
			if got := labelSelectorSelects(t, o2.dep.Spec.Selector, pods); got != (s == s2) {
				t.Errorf("Deployment of shard %s selects shard %s's pods: %v", s2, s, got)
			}
		}
		if !selects(webhook.Spec.Selector, pods) {
			t.Errorf("the webhook Service does not reach shard %s: the webhook judges every organization on any shard", s)
		}
	}

	ing := decode[networkingv1.Ingress](t, r.get(t, "Ingress", "roster-scim"))
	routes := map[string]string{}
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		routes[p.Path] = p.Backend.Service.Name
		if r.find("Service", p.Backend.Service.Name) == nil {
			t.Errorf("Ingress path %s goes to Service %s, which is not installed", p.Path, p.Backend.Service.Name)
		}
	}
	for path, want := range map[string]string{"/scim/v2/acme": "roster-scim-shard-a", "/scim/v2/globex": "roster-scim-shard-b", "/scim/v2": "roster-scim-shard-a"} {
		if routes[path] != want {
			t.Errorf("Ingress routes %s to %q, want %s", path, routes[path], want)
		}
	}
	applyAll(t, r, "")
}
