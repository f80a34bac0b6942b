package kubectlroster_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/kubectlroster"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/testenv"
)

// env is one real kube-apiserver + etcd for the package (no Roster manager: the plugin only
// reads, and the fixture writes the objects Roster would).
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// bigTeam is the member count of the fixture's team Eng.
const bigTeam = 20000

// world is the fixture every test reads: an organization with bigTeam users, all in team Eng
// (10 slices of 2,000), and team Ops (manual, no name claim) with two users and an id that is
// no user (user00001 is listed in two of its slices). user00001 is active, user00002 is not. Eng is bound by a RoleBinding in namespace
// App (Group mode), Ops by a ClusterRoleBinding naming user00001 only (User mode: user00002
// is inactive), as the TeamRoleBinding controller renders them.
type world struct {
	org             testenv.Org
	app             string // namespace of Eng's RoleBinding
	eng, ops        *rosterv1.OrgTeam
	ghost           string // Ops member id that is no user
	kubeconfig      string // admin; current context "roster" has the org's namespace
	viewerConfig    string // a user who may read Roster's kinds but no Secret
	opsClusterRole  string
	engRoleBinding  string
	opsClusterBound string
}

var (
	worldOnce sync.Once
	theWorld  *world
)

func userName(i int) string { return fmt.Sprintf("user%05d@example.com", i) }

func seed(t testing.TB) *world {
	t.Helper()
	worldOnce.Do(func() { theWorld = build(t) })
	if theWorld == nil {
		t.Fatal("the fixture failed to build (see the first test's failure)")
	}
	return theWorld
}

func build(t testing.TB) *world {
	ctx := context.Background()
	c := env.Client
	w := &world{org: env.NewOrg(t, "plug")}
	ns := w.org.Namespace
	labels := map[string]string{rosterv1.OrgLabel: w.org.Name}

	// Users, 16 creates at a time.
	ids := make([]string, bigTeam)
	work := make(chan int)
	errs := make(chan error, bigTeam)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				u := &rosterv1.OrgUser{}
				u.Name, u.Namespace, u.Labels = naming.UserObjectName(userName(i)), ns, labels
				u.Spec.UserName = userName(i)
				u.Spec.DisplayName = fmt.Sprintf("User %05d", i)
				u.Spec.Emails = []rosterv1.MultiValued{{Value: fmt.Sprintf("u%05d@mail.example.com", i), Primary: ptr.To(true)}}
				active := i != 2
				u.Spec.Active = &active
				if err := c.Create(ctx, u); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range bigTeam {
		ids[i] = naming.UserObjectName(userName(i))
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("creating users: %v", err)
	}

	w.eng = createTeam(t, ns, labels, "Eng", rosterv1.ManagedBySCIM)
	claim := &rosterv1.OrgTeamNameClaim{}
	claim.Name, claim.Namespace, claim.Labels = naming.TeamNameClaim("Eng"), ns, labels
	claim.Spec = rosterv1.OrgTeamNameClaimSpec{Team: w.eng.Name, DisplayName: "Eng", AcquireTime: metav1.NowMicro()}
	mustCreate(t, claim)
	for i := 0; i < bigTeam; i += rosterv1.MaxMembersPerSlice {
		createSlice(t, w.eng, labels, ids[i:min(i+rosterv1.MaxMembersPerSlice, bigTeam)])
	}
	w.ops = createTeam(t, ns, labels, "Ops", rosterv1.ManagedByManual)
	w.ghost = naming.UserObjectName("ghost@example.com")
	createSlice(t, w.ops, labels, []string{ids[2], w.ghost, ids[1]})
	// user00001 listed twice for a moment (two replicas adding it at once): one member.
	createSlice(t, w.ops, labels, []string{ids[1]})
	// A break-glass snapshot slice names user00003 for Ops: it is no membership.
	snap := &rosterv1.OrgTeamMemberSlice{}
	snap.GenerateName, snap.Namespace = w.ops.Name+"-snapshot-", ns
	snap.Labels = map[string]string{rosterv1.SnapshotOfLabel: w.ops.Name, rosterv1.SnapshotLabel: "s1", rosterv1.OrgLabel: w.org.Name}
	snap.Spec = rosterv1.OrgTeamMemberSliceSpec{Team: w.ops.Name, Members: []string{ids[3]}}
	mustCreate(t, snap)

	// Rendered bindings, labelled as the contract says.
	w.app = ns + "-app"
	mustCreate(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.app}})
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "roster-eng-view-1a2b", Namespace: w.app,
		Labels: bindingLabels(w.org.Name, w.eng.Name, "TeamRoleBinding", "eng-view")}}
	rb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}
	rb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "oidc:Eng"}}
	mustCreate(t, rb)
	w.engRoleBinding = rb.Name
	// Another organization's binding of a team with the same object name is not ours.
	other := rb.DeepCopy()
	other.ResourceVersion, other.Name = "", "roster-elsewhere-1"
	other.Labels[rosterv1.OrgLabel] = "someone-else"
	other.RoleRef.Name = "edit"
	mustCreate(t, other)

	// A RoleBinding anyone could make with the org and team labels but not binding-kind (so
	// outside the webhook's objectSelector) is not Roster's: access does not list it.
	forged := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "forged", Namespace: w.app,
		Labels: map[string]string{rosterv1.OrgLabel: w.org.Name, rosterv1.TeamLabel: w.eng.Name, "scim.roster.dev/binding": "eng-view"}}}
	forged.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}
	forged.Subjects = rb.Subjects
	mustCreate(t, forged)

	w.opsClusterRole = ns + "-reader"
	mustCreate(t, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: w.opsClusterRole}})
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "roster-" + ns + "-ops-3c4d-1",
		Labels: bindingLabels(w.org.Name, w.ops.Name, "ClusterTeamRoleBinding", ns+"-ops")}}
	crb.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: w.opsClusterRole}
	crb.Subjects = []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: userName(1)}}
	mustCreate(t, crb)
	w.opsClusterBound = crb.Name

	w.kubeconfig = kubeconfig(t, envtest.User{Name: "plugin-admin", Groups: []string{"system:masters"}}, ns)
	// The viewer reads Roster's kinds and RBAC, not Secrets (so not the token Secrets).
	viewer := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-viewer"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{rosterv1.GroupVersion.Group}, Resources: []string{"*"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"rolebindings", "clusterrolebindings"}, Verbs: []string{"get", "list"}},
	}}
	mustCreate(t, viewer)
	mustCreate(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ns + "-viewer"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: viewer.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: ns + "-viewer"}}})
	w.viewerConfig = kubeconfig(t, envtest.User{Name: ns + "-viewer"}, ns)
	return w
}

func bindingLabels(org, team, kind, name string) map[string]string {
	return map[string]string{rosterv1.OrgLabel: org, rosterv1.TeamLabel: team, "scim.roster.dev/binding": name,
		"scim.roster.dev/binding-kind": kind, "app.kubernetes.io/managed-by": "roster"}
}

func createTeam(t testing.TB, ns string, labels map[string]string, name, managedBy string) *rosterv1.OrgTeam {
	t.Helper()
	team := &rosterv1.OrgTeam{}
	team.Name, team.Namespace, team.Labels = naming.NewTeamObjectName(), ns, labels
	team.Spec = rosterv1.OrgTeamSpec{DisplayName: name, ManagedBy: managedBy}
	mustCreate(t, team)
	return team
}

func createSlice(t testing.TB, team *rosterv1.OrgTeam, labels map[string]string, members []string) {
	t.Helper()
	sl := &rosterv1.OrgTeamMemberSlice{}
	sl.GenerateName, sl.Namespace = team.Name+"-", team.Namespace
	sl.Labels = map[string]string{rosterv1.TeamLabel: team.Name, rosterv1.OrgLabel: labels[rosterv1.OrgLabel]}
	sl.Spec = rosterv1.OrgTeamMemberSliceSpec{Team: team.Name, Members: members}
	mustCreate(t, sl)
}

func mustCreate(t testing.TB, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// kubeconfig writes a kubeconfig file for user with two contexts: "roster" (current,
// namespace ns) and "other" (namespace default).
func kubeconfig(t testing.TB, user envtest.User, ns string) string {
	t.Helper()
	u, err := env.Environment.AddUser(user, nil)
	if err != nil {
		t.Fatalf("adding user %s: %v", user.Name, err)
	}
	raw, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	base := cfg.Contexts[cfg.CurrentContext]
	roster, other := base.DeepCopy(), base.DeepCopy()
	roster.Namespace, other.Namespace = ns, "default"
	cfg.Contexts = map[string]*clientcmdapi.Context{"roster": roster, "other": other}
	cfg.CurrentContext = "roster"
	path := filepath.Join(os.TempDir(), fmt.Sprintf("kubectl-roster-%d-%s.kubeconfig", os.Getpid(), user.Name))
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	env.AtStop(func() { os.Remove(path) })
	return path
}

// result is one run of the plugin.
type result struct {
	code           int
	stdout, stderr string
}

// roster runs the plugin in-process with args, as `kubectl roster args…`.
func roster(args ...string) result {
	var out, errb bytes.Buffer
	code := kubectlroster.Run(context.Background(), args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

// ok runs the plugin and fails the test unless it exits 0.
func ok(t testing.TB, args ...string) result {
	t.Helper()
	r := roster(args...)
	if r.code != 0 {
		t.Fatalf("kubectl roster %v: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r
}
