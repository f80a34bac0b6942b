// Package config_test renders Roster's kustomize install (config/default and the optional
// pieces next to it) with kubectl's kustomize, checks that the pieces fit together (names,
// ports, selectors, webhook paths, certificates) and has a real kube-apiserver validate every
// rendered object with a server-side dry-run apply.
package config_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/controlplane"
)

const (
	installNamespace = "roster-system"
	namePrefix       = "roster-"
	image            = "ghcr.io/rosterhq/roster:latest"
	fieldOwner       = "roster-install-test"
)

// k8s talks to the package's kube-apiserver (with Roster's CRDs installed), as an admin;
// restConfig is its configuration.
var (
	k8s        client.Client
	restConfig *rest.Config
)

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(run(m))
}

func run(m *testing.M) int {
	te, err := controlplane.New("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg, err := te.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting kube-apiserver and etcd:", err)
		return 1
	}
	defer func() {
		if err := te.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the control plane:", err)
		}
	}()
	restConfig = rest.CopyConfig(cfg)
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warningCollector{}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// TestDefaultInstall checks the rendered config/default piece by piece, then has the
// apiserver accept every object of it.
func TestDefaultInstall(t *testing.T) {
	r := render(t, "default")

	// Every kind of the install is there, and nothing else.
	wantKinds := []string{
		"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
		"Role", "RoleBinding", "Deployment", "Service", "PodDisruptionBudget", "Ingress",
		"ValidatingWebhookConfiguration", "Issuer", "Certificate",
	}
	var gotKinds []string
	for _, o := range r {
		if !slices.Contains(gotKinds, o.GetKind()) {
			gotKinds = append(gotKinds, o.GetKind())
		}
	}
	slices.Sort(gotKinds)
	slices.Sort(wantKinds)
	if !slices.Equal(gotKinds, wantKinds) {
		t.Errorf("rendered kinds = %v, want %v", gotKinds, wantKinds)
	}

	// The CRDs, exactly the generated ones.
	var crdNames []string
	for _, o := range r.ofKind("CustomResourceDefinition") {
		crdNames = append(crdNames, o.GetName())
	}
	slices.Sort(crdNames)
	wantCRDs := []string{
		"clusterteamrolebindings.scim.roster.dev",
		"organizations.scim.roster.dev", "orgteammemberslices.scim.roster.dev",
		"orgteamnameclaims.scim.roster.dev", "orgteams.scim.roster.dev", "orgusers.scim.roster.dev",
		"teamrolebindings.scim.roster.dev",
	}
	if !slices.Equal(crdNames, wantCRDs) {
		t.Errorf("CRDs = %v, want %v", crdNames, wantCRDs)
	}

	// Everything namespaced lands in roster-system under the roster- prefix.
	for _, o := range r {
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition":
			continue
		}
		if !strings.HasPrefix(o.GetName(), namePrefix) {
			t.Errorf("%s %s: name lacks the %q prefix", o.GetKind(), o.GetName(), namePrefix)
		}
		clusterScoped := slices.Contains([]string{"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"}, o.GetKind())
		if clusterScoped && o.GetNamespace() != "" {
			t.Errorf("%s %s is cluster-scoped but has namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
		}
		if !clusterScoped && o.GetNamespace() != installNamespace {
			t.Errorf("%s %s: namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), installNamespace)
		}
	}
	if len(r.ofKind("Namespace")) != 1 || r.ofKind("Namespace")[0].GetName() != installNamespace {
		t.Errorf("want exactly the Namespace %s", installNamespace)
	}

	dep := decode[appsv1.Deployment](t, r.get(t, "Deployment", "roster-controller-manager"))
	pod := dep.Spec.Template
	mgr := checkDeployment(t, dep)

	// Each Service selects the manager's pods and reaches the intended container port.
	services := map[string]struct {
		port, targetPort int32
		portName         string
	}{
		"roster-scim":            {80, 8080, "http"},
		"roster-webhook-service": {443, 9443, "https"},
		"roster-metrics-service": {8082, 8082, "https-metrics"},
	}
	for name, want := range services {
		svc := decode[corev1.Service](t, r.get(t, "Service", name))
		if !selects(svc.Spec.Selector, pod.Labels) {
			t.Errorf("Service %s: selector %v does not select the manager's pods %v", name, svc.Spec.Selector, pod.Labels)
		}
		if len(svc.Spec.Ports) != 1 {
			t.Errorf("Service %s: %d ports, want 1", name, len(svc.Spec.Ports))
			continue
		}
		p := svc.Spec.Ports[0]
		if p.Port != want.port || p.Name != want.portName {
			t.Errorf("Service %s: port %s/%d, want %s/%d", name, p.Name, p.Port, want.portName, want.port)
		}
		if got, ok := containerPort(mgr, p.TargetPort); !ok || got != want.targetPort {
			t.Errorf("Service %s: targetPort %s resolves to container port %d (found: %v), want %d", name, p.TargetPort.String(), got, ok, want.targetPort)
		}
	}
	if len(r.ofKind("Service")) != len(services) {
		t.Errorf("%d Services, want %d", len(r.ofKind("Service")), len(services))
	}

	// The PodDisruptionBudget keeps one manager pod up.
	pdb := decode[policyv1.PodDisruptionBudget](t, r.get(t, "PodDisruptionBudget", "roster-controller-manager"))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget minAvailable = %v, want 1", pdb.Spec.MinAvailable)
	}
	if !labelSelectorSelects(t, pdb.Spec.Selector, pod.Labels) {
		t.Errorf("PodDisruptionBudget selector %v does not select the manager's pods", pdb.Spec.Selector)
	}

	checkWebhook(t, r, mgr)
	checkIngress(t, r)
	checkRBAC(t, r, dep)

	// The real apiserver accepts every object.
	applyAll(t, r, installNamespace)
}

// checkDeployment checks the manager Deployment's shape and hardening, returns its container.
func checkDeployment(t *testing.T, dep *appsv1.Deployment) *corev1.Container {
	t.Helper()
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", dep.Spec.Replicas)
	}
	pod := dep.Spec.Template
	if !labelSelectorSelects(t, dep.Spec.Selector, pod.Labels) {
		t.Errorf("Deployment selector %v does not select its own pod template %v", dep.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1 (manager)", len(pod.Spec.Containers))
	}
	c := &pod.Spec.Containers[0]
	if c.Name != "manager" || c.Image != image {
		t.Errorf("container %s image %s, want manager image %s", c.Name, c.Image, image)
	}
	wantArgs := []string{"manager", "--leader-elect", "--scim-bind-address=:8080", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8082",
		"--shutdown-drain-delay=5s", "--shutdown-timeout=15s"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args = %q, want %q", c.Args, wantArgs)
	}
	// The kubelet kills the pod after terminationGracePeriodSeconds: it must outlast the drain
	// delay, the in-flight requests' timeout and the manager's 10 s margin for the rest.
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 5+15+10 {
		t.Errorf("terminationGracePeriodSeconds = %v, want more than drain (5 s) + shutdown timeout (15 s) + 10 s", g)
	}
	// Each address the binary binds has a container port of the right name.
	for name, flagName := range map[string]string{"scim": "scim-bind-address", "probes": "health-probe-bind-address", "metrics": "metrics-bind-address"} {
		bound := argPort(t, c.Args, flagName)
		if got, ok := containerPort(c, intstr.FromString(name)); !ok || got != bound {
			t.Errorf("container port %q = %d (found: %v), but --%s binds %d", name, got, ok, flagName, bound)
		}
	}
	if got, ok := containerPort(c, intstr.FromString("webhook-server")); !ok || got != 9443 {
		t.Errorf("container port webhook-server = %d (found: %v), want 9443 (controller-runtime's webhook server)", got, ok)
	}

	// Probes: liveness on /healthz, readiness on /readyz, both on the probe address.
	probeAddr := argPort(t, c.Args, "health-probe-bind-address")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", p.name, p.path)
			continue
		}
		port, ok := containerPort(c, p.probe.HTTPGet.Port)
		if p.probe.HTTPGet.Path != p.path || !ok || port != probeAddr {
			t.Errorf("%s probe: GET %s on port %d, want %s on %d", p.name, p.probe.HTTPGet.Path, port, p.path, probeAddr)
		}
	}

	// Readiness: one slow answer must not drop a pod from the endpoints, and a stopping pod
	// must be out of them within the drain delay (5 s), while it still serves.
	if r := c.ReadinessProbe; r != nil {
		timeout := max(r.TimeoutSeconds, 1) // Kubernetes' default is 1
		if r.FailureThreshold < 2 {
			t.Errorf("readiness failureThreshold = %d: a single slow answer marks the pod not ready", r.FailureThreshold)
		}
		if worst := r.PeriodSeconds*max(r.FailureThreshold, 1) + timeout; worst >= 5 {
			t.Errorf("readiness takes up to %d s to fail (period %d x threshold %d + timeout %d), not inside the 5 s drain delay",
				worst, r.PeriodSeconds, r.FailureThreshold, timeout)
		}
	}

	// Hardening: non-root, no privilege escalation, no capabilities, read-only root, seccomp.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if psc != nil && (psc.RunAsUser == nil || *psc.RunAsUser != 65532) {
		t.Errorf("pod runAsUser = %v, want 65532 (the image's distroless nonroot user)", psc.RunAsUser)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Error("container has no securityContext")
	default:
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("readOnlyRootFilesystem is not true")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", sc.Capabilities)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Error("container is privileged")
		}
	}
	// The manager sets Go's soft memory limit from the container's (internal/cli): the
	// downward API must pass this container's limits.memory, in bytes, and no GOMEMLIMIT
	// may override it with the whole limit.
	memEnv := false
	for _, e := range c.Env {
		switch e.Name {
		case "GOMEMLIMIT":
			t.Errorf("GOMEMLIMIT is set (%+v): it overrides the manager's 90%% of the container limit", e)
		case "ROSTER_CONTAINER_MEMORY_LIMIT":
			memEnv = true
			ref := (*corev1.ResourceFieldSelector)(nil)
			if e.ValueFrom != nil {
				ref = e.ValueFrom.ResourceFieldRef
			}
			if ref == nil || ref.Resource != "limits.memory" || (ref.ContainerName != "" && ref.ContainerName != c.Name) ||
				(!ref.Divisor.IsZero() && ref.Divisor.Value() != 1) {
				t.Errorf("ROSTER_CONTAINER_MEMORY_LIMIT = %+v, want the downward API's limits.memory of container %s in bytes", e.ValueFrom, c.Name)
			}
		}
	}
	if !memEnv {
		t.Error("no ROSTER_CONTAINER_MEMORY_LIMIT: the manager cannot size its soft memory limit to the container")
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}

	// A read-only root needs a writable /tmp; the webhook certificate sits in
	// controller-runtime's default directory, from the Secret cert-manager writes.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	if m, ok := mounts["/tmp"]; !ok || vols[m.Name].EmptyDir == nil {
		t.Error("/tmp is not an emptyDir")
	}
	m, ok := mounts["/tmp/k8s-webhook-server/serving-certs"]
	if !ok || vols[m.Name].Secret == nil || vols[m.Name].Secret.SecretName != "webhook-server-cert" || !m.ReadOnly {
		t.Error("/tmp/k8s-webhook-server/serving-certs is not the Secret webhook-server-cert, read-only")
	}

	// Replicas are spread over nodes, and get time to finish in-flight requests.
	spread := false
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		if tsc.TopologyKey == corev1.LabelHostname && labelSelectorSelects(t, tsc.LabelSelector, pod.Labels) {
			spread = true
		}
	}
	if aff := pod.Spec.Affinity; aff != nil && aff.PodAntiAffinity != nil {
		for _, term := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if term.PodAffinityTerm.TopologyKey == corev1.LabelHostname && labelSelectorSelects(t, term.PodAffinityTerm.LabelSelector, pod.Labels) {
				spread = true
			}
		}
	}
	if !spread {
		t.Error("no topology spread constraint or anti-affinity across nodes that selects the manager's pods")
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g < 30 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least controller-runtime's 30s graceful shutdown", g)
	}
	return c
}

// webhookPaths are the admission webhook's resources and the paths controller-runtime serves
// them on (/validate-<group with dashes>-<version>-<kind>).
var webhookPaths = map[string]string{
	"orgusers":            "/validate-scim-roster-dev-v1alpha1-orguser",
	"orgteams":            "/validate-scim-roster-dev-v1alpha1-orgteam",
	"orgteammemberslices": "/validate-scim-roster-dev-v1alpha1-orgteammemberslice",
	"orgteamnameclaims":   "/validate-scim-roster-dev-v1alpha1-orgteamnameclaim",
	"rolebindings":        "/validate-rbac-authorization-k8s-io-v1-rolebinding",
	"clusterrolebindings": "/validate-rbac-authorization-k8s-io-v1-clusterrolebinding",
}

// checkWebhook checks the ValidatingWebhookConfiguration against the webhook Service, the
// Certificate and the manager's mounted certificate Secret.
func checkWebhook(t *testing.T, r rendered, mgr *corev1.Container) {
	t.Helper()
	vwc := decode[admissionregistrationv1.ValidatingWebhookConfiguration](t, r.get(t, "ValidatingWebhookConfiguration", "roster-validating-webhook-configuration"))
	dep := decode[appsv1.Deployment](t, r.get(t, "Deployment", "roster-controller-manager"))
	managerIdentity := "system:serviceaccount:" + dep.Namespace + ":" + dep.Spec.Template.Spec.ServiceAccountName
	svc := r.get(t, "Service", "roster-webhook-service")
	cert := r.get(t, "Certificate", "roster-serving-cert")

	if got, want := vwc.Annotations["cert-manager.io/inject-ca-from"], cert.GetNamespace()+"/"+cert.GetName(); got != want {
		t.Errorf("inject-ca-from = %q, want %q", got, want)
	}
	seen := map[string]bool{}
	for _, wh := range vwc.Webhooks {
		if len(wh.Rules) != 1 || len(wh.Rules[0].Resources) != 1 {
			t.Errorf("webhook %s: want one rule for one resource, got %+v", wh.Name, wh.Rules)
			continue
		}
		rule := wh.Rules[0]
		res := rule.Resources[0]
		seen[res] = true
		wantGV := rosterv1.GroupVersion
		if rendered := rule.Resources[0] == "rolebindings" || rule.Resources[0] == "clusterrolebindings"; rendered {
			// Rendered bindings only: the objectSelector keeps every other binding of the
			// cluster away from a webhook that fails closed.
			wantGV = rbacv1.SchemeGroupVersion
			sel := wh.ObjectSelector
			if sel == nil || len(sel.MatchExpressions) != 1 || sel.MatchExpressions[0].Key != rosterv1.BindingKindLabel ||
				sel.MatchExpressions[0].Operator != metav1.LabelSelectorOpExists {
				t.Errorf("webhook %s: objectSelector %+v, want %s Exists", wh.Name, sel, rosterv1.BindingKindLabel)
			}
		}
		if !slices.Equal(rule.APIGroups, []string{wantGV.Group}) || !slices.Equal(rule.APIVersions, []string{wantGV.Version}) {
			t.Errorf("webhook %s: groups %v versions %v, want %s", wh.Name, rule.APIGroups, rule.APIVersions, wantGV)
		}
		ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete}
		if !slices.Equal(rule.Operations, ops) {
			t.Errorf("webhook %s: operations %v, want %v", wh.Name, rule.Operations, ops)
		}
		if wh.FailurePolicy == nil || *wh.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("webhook %s: failurePolicy %v, want Fail", wh.Name, wh.FailurePolicy)
		}
		if wh.SideEffects == nil || *wh.SideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("webhook %s: sideEffects %v, want None", wh.Name, wh.SideEffects)
		}
		if !slices.Equal(wh.AdmissionReviewVersions, []string{"v1"}) {
			t.Errorf("webhook %s: admissionReviewVersions %v, want [v1]", wh.Name, wh.AdmissionReviewVersions)
		}
		s := wh.ClientConfig.Service
		if s == nil || s.Name != svc.GetName() || s.Namespace != svc.GetNamespace() {
			t.Errorf("webhook %s: service %+v, want %s/%s", wh.Name, s, svc.GetNamespace(), svc.GetName())
			continue
		}
		if s.Path == nil || *s.Path != webhookPaths[res] {
			t.Errorf("webhook %s (%s): path %v, want %s", wh.Name, res, s.Path, webhookPaths[res])
		}
		if s.Port != nil && *s.Port != 443 {
			t.Errorf("webhook %s: service port %d, the webhook Service listens on 443", wh.Name, *s.Port)
		}
		// The webhook's resource is one of the CRDs of the install.
		if wantGV == rosterv1.GroupVersion && r.find("CustomResourceDefinition", res+"."+rosterv1.GroupVersion.Group) == nil {
			t.Errorf("webhook %s: no CRD for %s", wh.Name, res)
		}
		// The call is skipped exactly for the manager's own service account.
		if len(wh.MatchConditions) != 1 || !strings.Contains(wh.MatchConditions[0].Expression, "'"+managerIdentity+"'") {
			t.Errorf("webhook %s: matchConditions %+v must exclude %s", wh.Name, wh.MatchConditions, managerIdentity)
		}
	}
	if len(vwc.Webhooks) != len(webhookPaths) || len(seen) != len(webhookPaths) {
		t.Errorf("webhooks cover %v, want exactly %v", seen, webhookPaths)
	}

	// The certificate is valid for the Service's DNS name and lands in the Secret the
	// manager mounts; its issuer is part of the install.
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if want := svc.GetName() + "." + svc.GetNamespace() + ".svc"; !slices.Contains(dnsNames, want) {
		t.Errorf("Certificate dnsNames %v lack %s", dnsNames, want)
	}
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	if secretName != "webhook-server-cert" {
		t.Errorf("Certificate secretName %q, but the manager mounts webhook-server-cert", secretName)
	}
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if r.find("Issuer", issuer) == nil {
		t.Errorf("Certificate issuerRef %q is not an Issuer of the install", issuer)
	}
	if _, ok := containerPort(mgr, intstr.FromString("webhook-server")); !ok {
		t.Error("the manager has no webhook-server port")
	}
}

// checkIngress checks that the Ingress exposes /scim/v2 of the SCIM Service, with TLS.
func checkIngress(t *testing.T, r rendered) {
	t.Helper()
	ing := decode[networkingv1.Ingress](t, r.get(t, "Ingress", "roster-scim"))
	svc := decode[corev1.Service](t, r.get(t, "Service", "roster-scim"))
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("Ingress: want one rule with one path, got %+v", ing.Spec.Rules)
	}
	rule := ing.Spec.Rules[0]
	p := rule.HTTP.Paths[0]
	if p.Path != "/scim/v2" || p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
		t.Errorf("Ingress path %s (%v), want /scim/v2 Prefix", p.Path, p.PathType)
	}
	b := p.Backend.Service
	if b == nil || b.Name != svc.Name {
		t.Fatalf("Ingress backend %+v, want Service %s", p.Backend, svc.Name)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(sp corev1.ServicePort) bool {
		return (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number)
	}) {
		t.Errorf("Ingress backend port %+v is not a port of Service %s", b.Port, svc.Name)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName == "" || !slices.Contains(ing.Spec.TLS[0].Hosts, rule.Host) {
		t.Errorf("Ingress TLS %+v does not cover host %q", ing.Spec.TLS, rule.Host)
	}
}

// checkRBAC checks that the manager's bindings resolve to roles of the install and that the
// roles grant what the manager needs, with no wildcards.
func checkRBAC(t *testing.T, r rendered, dep *appsv1.Deployment) {
	t.Helper()
	sa := r.get(t, "ServiceAccount", dep.Spec.Template.Spec.ServiceAccountName)
	isManager := func(s rbacv1.Subject) bool {
		return s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.GetName() && s.Namespace == sa.GetNamespace()
	}
	var clusterRules, namespaceRules []rbacv1.PolicyRule
	for _, o := range r.ofKind("ClusterRoleBinding") {
		b := decode[rbacv1.ClusterRoleBinding](t, o)
		if !slices.ContainsFunc(b.Subjects, isManager) {
			continue
		}
		role := r.find("ClusterRole", b.RoleRef.Name)
		if b.RoleRef.Kind != "ClusterRole" || role == nil {
			t.Errorf("ClusterRoleBinding %s refers to %s %s, which the install lacks", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		clusterRules = append(clusterRules, decode[rbacv1.ClusterRole](t, role).Rules...)
	}
	for _, o := range r.ofKind("RoleBinding") {
		b := decode[rbacv1.RoleBinding](t, o)
		if !slices.ContainsFunc(b.Subjects, isManager) {
			continue
		}
		role := r.find("Role", b.RoleRef.Name)
		if b.RoleRef.Kind != "Role" || role == nil || role.GetNamespace() != b.Namespace {
			t.Errorf("RoleBinding %s refers to %s %s, which the install lacks in %s", b.Name, b.RoleRef.Kind, b.RoleRef.Name, b.Namespace)
			continue
		}
		if b.Namespace != dep.Namespace {
			t.Errorf("RoleBinding %s is in %s, not the manager's namespace", b.Name, b.Namespace)
		}
		namespaceRules = append(namespaceRules, decode[rbacv1.Role](t, role).Rules...)
	}

	// Cluster-wide: the controllers and the SCIM server read and write Roster's resources.
	const group = "scim.roster.dev"
	for _, res := range []string{"orgusers", "orgteams", "orgteammemberslices"} {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
			if !allows(clusterRules, group, res, verb) {
				t.Errorf("the manager's ClusterRole does not allow %s %s", verb, res)
			}
		}
	}
	// Display-name claims, read and written only live (no watch: Roster caches none).
	for _, verb := range []string{"get", "list", "create", "update", "delete"} {
		if !allows(clusterRules, group, "orgteamnameclaims", verb) {
			t.Errorf("the manager's ClusterRole does not allow %s orgteamnameclaims", verb)
		}
	}
	for _, res := range []string{"orgusers/status", "orgteams/status", "organizations/status"} {
		if !allows(clusterRules, group, res, "update") {
			t.Errorf("the manager's ClusterRole does not allow update %s", res)
		}
	}
	for _, verb := range []string{"get", "list", "watch"} {
		if !allows(clusterRules, group, "organizations", verb) {
			t.Errorf("the manager's ClusterRole does not allow %s organizations", verb)
		}
		// Token Secrets: in its own namespace only.
		if !allows(namespaceRules, "", "secrets", verb) {
			t.Errorf("the manager's Roles in its namespace do not allow %s secrets", verb)
		}
	}
	// In its namespace: the leader election Lease.
	for _, verb := range []string{"get", "create", "update"} {
		if !allows(namespaceRules, "coordination.k8s.io", "leases", verb) {
			t.Errorf("the leader election Role does not allow %s leases", verb)
		}
	}
	// No ClusterRole of the install, the manager's or the ones for people, grants anything
	// on Secrets or Leases: a token Secret anywhere but Roster's namespace authenticates
	// nobody, and other namespaces' Leases are other controllers' (kube-system's included).
	for _, o := range r.ofKind("ClusterRole") {
		for _, rule := range decode[rbacv1.ClusterRole](t, o).Rules {
			for _, res := range []struct{ group, resource string }{{"", "secrets"}, {"coordination.k8s.io", "leases"}} {
				if slices.Contains(rule.APIGroups, res.group) && slices.Contains(rule.Resources, res.resource) {
					t.Errorf("ClusterRole %s grants %v on %s: only Roles in Roster's namespace may", o.GetName(), rule.Verbs, res.resource)
				}
			}
		}
	}
	// Least privilege: no wildcard anywhere in the install's roles.
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range r.ofKind(kind) {
			for _, rule := range decode[rbacv1.ClusterRole](t, o).Rules {
				if slices.Contains(rule.Verbs, "*") || slices.Contains(rule.Resources, "*") || slices.Contains(rule.APIGroups, "*") {
					t.Errorf("%s %s has a wildcard rule %+v", kind, o.GetName(), rule)
				}
			}
		}
	}

	// Viewers of teams and users come with the built-in view role, team editors with edit.
	aggregated := func(name, to string) bool {
		o := r.find("ClusterRole", name)
		return o != nil && o.GetLabels()["rbac.authorization.k8s.io/aggregate-to-"+to] == "true"
	}
	for _, c := range []struct{ role, to string }{
		{"roster-orguser-viewer-role", "view"}, {"roster-orgteam-viewer-role", "view"},
		{"roster-orgteam-viewer-role", "edit"}, {"roster-orgteam-editor-role", "edit"},
	} {
		if !aggregated(c.role, c.to) {
			t.Errorf("ClusterRole %s is not aggregated to %s", c.role, c.to)
		}
	}
	// Teams are bound to roles through the bind verb on named roles only, never on all roles
	// (cluster-admin would be one), and the manager escalates nothing else: no rule lets it
	// create roles or touch role bindings it did not render beyond what rendering needs.
	bindable := false
	for _, rule := range clusterRules {
		if slices.Contains(rule.Verbs, "bind") || slices.Contains(rule.Verbs, "escalate") {
			if slices.Contains(rule.Verbs, "escalate") || len(rule.ResourceNames) == 0 {
				t.Errorf("the manager may %v %v of any name: it could bind teams to cluster-admin", rule.Verbs, rule.Resources)
			}
			if slices.Contains(rule.ResourceNames, "cluster-admin") {
				t.Errorf("the install lets teams be bound to cluster-admin")
			}
			bindable = true
		}
	}
	if !bindable {
		t.Error("the manager may bind no role: TeamRoleBindings would all be RoleNotBindable")
	}
	for _, res := range []string{"roles", "clusterroles"} {
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			if allows(clusterRules, "rbac.authorization.k8s.io", res, verb) {
				t.Errorf("the manager may %s %s", verb, res)
			}
		}
	}
	for _, res := range []string{"rolebindings", "clusterrolebindings"} {
		for _, verb := range []string{"get", "list", "watch", "create", "update", "delete"} {
			if !allows(clusterRules, "rbac.authorization.k8s.io", res, verb) {
				t.Errorf("the manager's ClusterRole does not allow %s %s (TeamRoleBindings)", verb, res)
			}
		}
	}
	// Metrics are served over HTTPS to callers the apiserver authorizes: the manager may ask
	// (TokenReview, SubjectAccessReview), and a role to bind scrapers to exists.
	if !allows(clusterRules, "authentication.k8s.io", "tokenreviews", "create") || !allows(clusterRules, "authorization.k8s.io", "subjectaccessreviews", "create") {
		t.Error("the manager's ClusterRole cannot create TokenReviews and SubjectAccessReviews: metrics authentication would fail")
	}
	if reader := r.find("ClusterRole", "roster-metrics-reader"); reader == nil {
		t.Error("no ClusterRole roster-metrics-reader for Prometheus")
	} else if rules := decode[rbacv1.ClusterRole](t, reader).Rules; len(rules) != 1 || !slices.Equal(rules[0].NonResourceURLs, []string{"/metrics"}) || !slices.Equal(rules[0].Verbs, []string{"get"}) {
		t.Errorf("roster-metrics-reader rules %+v, want exactly get /metrics", rules)
	}
	if aggregated("roster-orguser-editor-role", "edit") {
		t.Error("OrgUser editing is aggregated to edit; users belong to the identity provider")
	}
	// Display-name claims are Roster's alone: no role for people grants writing them.
	for _, o := range r.ofKind("ClusterRole") {
		if o.GetName() == "roster-manager-role" {
			continue
		}
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			if allows(decode[rbacv1.ClusterRole](t, o).Rules, group, "orgteamnameclaims", verb) {
				t.Errorf("ClusterRole %s allows %s orgteamnameclaims; only Roster writes claims", o.GetName(), verb)
			}
		}
	}
}

// TestSamples checks that the samples describe one coherent organization and that the real
// CRDs accept them.
func TestSamples(t *testing.T) {
	r := render(t, "samples")
	org := decode[rosterv1.Organization](t, r.get(t, "Organization", "acme"))
	if org.Spec.Namespace != "acme" {
		t.Errorf("Organization acme: spec.namespace %q, want acme", org.Spec.Namespace)
	}
	if r.find("Namespace", org.Spec.Namespace) == nil {
		t.Errorf("the samples lack the organization's Namespace %s", org.Spec.Namespace)
	}
	teams := r.ofKind("OrgTeam")
	if len(teams) == 0 {
		t.Fatal("no OrgTeam sample")
	}
	for _, o := range teams {
		team := decode[rosterv1.OrgTeam](t, o)
		if team.Namespace != org.Spec.Namespace || team.Labels[rosterv1.OrgLabel] != org.Name {
			t.Errorf("OrgTeam %s/%s (org label %q) is not in organization %s", team.Namespace, team.Name, team.Labels[rosterv1.OrgLabel], org.Name)
		}
		if team.Spec.ManagedBy != rosterv1.ManagedByManual || team.Spec.DisplayName == "" {
			t.Errorf("OrgTeam %s: managedBy %q displayName %q, want a manual team with a display name", team.Name, team.Spec.ManagedBy, team.Spec.DisplayName)
		}
	}
	applyAll(t, r, "")
}

// TestOptionalPieces renders the pieces config/default leaves out (network policies,
// Prometheus), checks they point at the manager, and applies what the apiserver knows.
func TestOptionalPieces(t *testing.T) {
	dep := decode[appsv1.Deployment](t, render(t, "default").get(t, "Deployment", "roster-controller-manager"))
	mgr := dep.Spec.Template.Spec.Containers[0]

	// Rendered alone the policies keep kubebuilder's placeholder namespace "system"; put them
	// where config/default would.
	np := render(t, "network-policy")
	for _, o := range np {
		o.SetNamespace(installNamespace)
	}
	ports := map[string]bool{}
	for _, o := range np.ofKind("NetworkPolicy") {
		pol := decode[networkingv1.NetworkPolicy](t, o)
		if !labelSelectorSelects(t, &pol.Spec.PodSelector, dep.Spec.Template.Labels) {
			t.Errorf("NetworkPolicy %s does not select the manager's pods", pol.Name)
		}
		for _, rule := range pol.Spec.Ingress {
			for _, p := range rule.Ports {
				port, ok := containerPort(&mgr, *p.Port)
				if !ok {
					t.Errorf("NetworkPolicy %s: port %s is not a port of the manager", pol.Name, p.Port.String())
				}
				ports[strconv.Itoa(int(port))] = true
			}
		}
	}
	for _, p := range []string{"8080", "9443", "8082"} {
		if !ports[p] {
			t.Errorf("no NetworkPolicy lets traffic in on port %s", p)
		}
	}
	applyAll(t, np, installNamespace)

	prom := render(t, "prometheus")
	sm := prom.get(t, "ServiceMonitor", "controller-manager-metrics-monitor")
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != "https-metrics" || eps[0].(map[string]any)["scheme"] != "https" {
		t.Errorf("ServiceMonitor endpoints %v, want https on the metrics Service's port https-metrics", eps)
	}
	// Prometheus is bound to the role that may read /metrics.
	crb := decode[rbacv1.ClusterRoleBinding](t, prom.get(t, "ClusterRoleBinding", "metrics-reader-prometheus"))
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != "metrics-reader" {
		t.Errorf("the Prometheus binding refers to %s %s, want the install's metrics reader", crb.RoleRef.Kind, crb.RoleRef.Name)
	}
	t.Log("ServiceMonitor not applied: the test apiserver has no Prometheus Operator CRDs")
}

// rendered is the output of `kubectl kustomize`.
type rendered []*unstructured.Unstructured

// render runs kubectl's kustomize on config/<dir>.
func render(t *testing.T, dir string) rendered {
	t.Helper()
	kubectl := kubectlPath(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(kubectl, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s kustomize %s: %v\n%s", kubectl, dir, err, stderr.String())
	}
	return parse(t, dir, stdout.Bytes())
}

// parse reads the YAML documents kustomize printed for dir.
func parse(t *testing.T, dir string, yamlDocs []byte) rendered {
	t.Helper()
	var out rendered
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(yamlDocs)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the render of %s: %v", dir, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("render of %s: %v\n%s", dir, err, doc)
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		t.Fatalf("kustomize %s rendered nothing", dir)
	}
	return out
}

// kubectlPath prefers the kubectl built with the control plane (same version as the apiserver).
func kubectlPath(t *testing.T) string {
	if dir, err := controlplane.AssetsDir(); err == nil {
		if p := filepath.Join(dir, "kubectl"); isExecutable(p) {
			return p
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl not found in $KUBEBUILDER_ASSETS, bin/k8s or PATH: run hack/control-plane.sh")
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func (r rendered) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.ofKind(kind) {
		if o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := r.find(kind, name)
	if o == nil {
		t.Fatalf("no %s %s in the render", kind, name)
	}
	return o
}

// decode converts a rendered object to its Go type, failing on fields the type lacks.
func decode[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var obj T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &obj, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return &obj
}

// containerPort resolves a (possibly named) port of the container.
func containerPort(c *corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// argPort is the port of a --flag=[host]:port argument.
func argPort(t *testing.T, args []string, flag string) int32 {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
			_, port, _ := strings.Cut(v, ":")
			n, err := strconv.ParseInt(port, 10, 32)
			if err != nil {
				t.Fatalf("--%s=%s: %v", flag, v, err)
			}
			return int32(n)
		}
	}
	t.Fatalf("no --%s argument", flag)
	return 0
}

func selects(selector, podLabels map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(podLabels))
}

func labelSelectorSelects(t *testing.T, ls *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if ls == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		t.Errorf("label selector %v: %v", ls, err)
		return false
	}
	return !sel.Empty() && sel.Matches(labels.Set(podLabels))
}

// allows reports whether the rules grant verb on group/resource (no wildcards honoured: the
// install uses none, which checkRBAC asserts).
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
	})
}

// applyAll has the apiserver validate every object with a server-side apply dry run.
// Namespaces are created for real first: the namespace lifecycle admission plugin rejects
// even a dry run into a namespace that does not exist. Nothing else is persisted, so the
// failurePolicy=Fail webhook configuration never points the apiserver at a webhook that is
// not running. defaultNamespace is given to namespaced objects the render leaves without one.
func applyAll(t *testing.T, r rendered, defaultNamespace string) {
	t.Helper()
	ctx := context.Background()
	ensureCertManagerCRDs(t)
	if defaultNamespace != "" {
		ensureNamespace(t, defaultNamespace)
	}
	for _, o := range r.ofKind("Namespace") {
		ensureNamespace(t, o.GetName())
	}
	for _, o := range r {
		if o.GetKind() == "Namespace" {
			continue
		}
		o = o.DeepCopy()
		namespaced, err := k8s.IsObjectNamespaced(o)
		if err != nil {
			t.Errorf("%s %s: the apiserver does not know the kind: %v", o.GetKind(), o.GetName(), err)
			continue
		}
		if namespaced && o.GetNamespace() == "" {
			o.SetNamespace(defaultNamespace)
		}
		var warnings []string
		wctx := context.WithValue(ctx, warningsKey{}, &warnings)
		err = k8s.Apply(wctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldOwner), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("%s %s/%s rejected by the apiserver: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		for _, w := range warnings {
			t.Errorf("%s %s/%s: apiserver warning: %s", o.GetKind(), o.GetNamespace(), o.GetName(), w)
		}
	}
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{}
	ns.Name = name
	if err := k8s.Create(context.Background(), ns); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

var certManagerOnce sync.Once

// ensureCertManagerCRDs installs stand-ins for cert-manager's Issuer and Certificate CRDs,
// which the test apiserver otherwise lacks. Their schemas hold only the fields Roster's
// install uses, with the types and required fields of cert-manager's v1 API, so a typo in
// config/certmanager is still rejected.
func ensureCertManagerCRDs(t *testing.T) {
	t.Helper()
	certManagerOnce.Do(func() {
		ctx := context.Background()
		str := apiextensionsv1.JSONSchemaProps{Type: "string"}
		obj := func(required []string, props map[string]apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
			return apiextensionsv1.JSONSchemaProps{Type: "object", Required: required, Properties: props}
		}
		crds := []*apiextensionsv1.CustomResourceDefinition{
			certManagerCRD("Issuer", "issuers", obj(nil, map[string]apiextensionsv1.JSONSchemaProps{
				"selfSigned": obj(nil, map[string]apiextensionsv1.JSONSchemaProps{"crlDistributionPoints": {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &str}}}),
			})),
			certManagerCRD("Certificate", "certificates", obj([]string{"issuerRef", "secretName"}, map[string]apiextensionsv1.JSONSchemaProps{
				"dnsNames":   {Type: "array", Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &str}},
				"secretName": str,
				"issuerRef":  obj([]string{"name"}, map[string]apiextensionsv1.JSONSchemaProps{"name": str, "kind": str, "group": str}),
			})),
		}
		for _, crd := range crds {
			if err := k8s.Create(ctx, crd); err != nil {
				t.Fatalf("installing the %s stand-in CRD: %v", crd.Name, err)
			}
		}
		// Wait until the apiserver serves the kinds.
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			for _, crd := range crds {
				var got apiextensionsv1.CustomResourceDefinition
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(crd), &got); err != nil {
					return false, err
				}
				established := slices.ContainsFunc(got.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
					return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
				})
				if !established {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("waiting for the cert-manager stand-in CRDs: %v", err)
		}
	})
}

func certManagerCRD(kind, plural string, spec apiextensionsv1.JSONSchemaProps) *apiextensionsv1.CustomResourceDefinition {
	crd := &apiextensionsv1.CustomResourceDefinition{
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "cert-manager.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind)},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:       "object",
					Required:   []string{"spec"},
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": spec},
				}},
			}},
		},
	}
	crd.Name = plural + ".cert-manager.io"
	return crd
}

// warningsKey carries a *[]string in a request context; warningCollector appends the
// apiserver's warnings (unknown fields, deprecations) to it.
type warningsKey struct{}

type warningCollector struct{}

func (warningCollector) HandleWarningHeaderWithContext(ctx context.Context, _ int, _ string, text string) {
	if w, ok := ctx.Value(warningsKey{}).(*[]string); ok {
		*w = append(*w, text)
	}
}
