package kubectlroster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/kubectlroster"
	"github.com/rosterhq/roster/internal/naming"
)

func TestMembersOfA20000MemberTeam(t *testing.T) {
	w := seed(t)
	r := ok(t, "members", "Eng", "--kubeconfig", w.kubeconfig, "-o", "json")
	var got []kubectlroster.Member
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("-o json does not parse: %v\n%.300s", err, r.stdout)
	}
	if len(got) != bigTeam {
		t.Fatalf("members: %d, want %d", len(got), bigTeam)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if m.Unresolved || m.UserName == "" || m.Active == nil {
			t.Fatalf("member %+v is not resolved", m)
		}
		if seen[m.ID] {
			t.Fatalf("member %s printed twice", m.ID)
		}
		seen[m.ID] = true
		if m.ID != naming.UserObjectName(m.UserName) {
			t.Fatalf("member %+v: id and userName disagree", m)
		}
	}
	for _, m := range got {
		if m.UserName == userName(2) && (*m.Active || m.DisplayName != "User 00002" || m.Email != "u00002@mail.example.com") {
			t.Fatalf("user00002 printed as %+v, want inactive, its display name and email", m)
		}
	}

	// The table: a header and one line per member; the team may be named by its id, in any
	// case by its display name.
	table := ok(t, "members", "eNG", "--kubeconfig", w.kubeconfig)
	lines := strings.Split(strings.TrimSuffix(table.stdout, "\n"), "\n")
	if len(lines) != bigTeam+1 {
		t.Fatalf("table has %d lines, want %d", len(lines), bigTeam+1)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "USERNAME DISPLAY-NAME ACTIVE" {
		t.Fatalf("table header %q", lines[0])
	}
	// Columns aligned on the first batch (DISPLAY-NAME is wider than "User 00000").
	if !firstRow.MatchString(lines[1]) {
		t.Fatalf("first row %q: want columns aligned under the header %q", lines[1], lines[0])
	}
	// Rows are sorted by userName within a slice: the first slice is the first 2,000 rows.
	if first := lines[1 : 1+rosterv1.MaxMembersPerSlice]; !slices.IsSorted(first) {
		t.Fatal("the first slice's rows are not sorted by userName")
	}
	byID := ok(t, "members", w.eng.Name, "--kubeconfig", w.kubeconfig)
	if byID.stdout != table.stdout {
		t.Fatal("members by id differ from members by display name")
	}
}

func TestMembersUnresolvedWideAndYAML(t *testing.T) {
	w := seed(t)
	// Ops has no name claim (a manual team): found by its display name all the same.
	r := ok(t, "members", "ops", "--kubeconfig", w.kubeconfig, "-o", "wide")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := [][]string{
		{"USERNAME", "DISPLAY-NAME", "ACTIVE", "ID", "EMAIL"},
		{userName(1), "User", "00001", "true", naming.UserObjectName(userName(1)), "u00001@mail.example.com"},
		{userName(2), "User", "00002", "false", naming.UserObjectName(userName(2)), "u00002@mail.example.com"},
		{"<no", "such", "user:", w.ghost + ">", "<none>", "<unknown>", w.ghost, "<none>"},
	}
	if len(lines) != len(want) {
		t.Fatalf("wide table:\n%s", r.stdout)
	}
	for i, l := range lines {
		if got := strings.Fields(l); strings.Join(got, " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: %q, want fields %q", i, l, want[i])
		}
	}
	// The snapshot slice's user00003 is no member.
	y := ok(t, "members", "Ops", "--kubeconfig", w.kubeconfig, "-o", "yaml")
	var got []kubectlroster.Member
	if err := yaml.Unmarshal([]byte(y.stdout), &got); err != nil {
		t.Fatalf("-o yaml does not parse: %v\n%s", err, y.stdout)
	}
	if len(got) != 3 || got[2].ID != w.ghost || !got[2].Unresolved || got[0].UserName != userName(1) {
		t.Fatalf("-o yaml: %+v", got)
	}
}

func TestTeamsOfAUser(t *testing.T) {
	w := seed(t)
	for _, name := range []string{userName(1), strings.ToUpper(userName(1)), naming.UserObjectName(userName(1))} {
		r := ok(t, "teams", name, "--kubeconfig", w.kubeconfig, "-o", "json")
		var got []kubectlroster.Team
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].DisplayName != "Eng" || got[1].DisplayName != "Ops" || got[1].ID != w.ops.Name {
			t.Fatalf("teams %s: %+v, want Eng and Ops", name, got)
		}
	}
	// user00003 is only in Ops's break-glass snapshot, which is no membership.
	r := ok(t, "teams", userName(3), "--kubeconfig", w.kubeconfig)
	if got := strings.Fields(strings.Split(r.stdout, "\n")[1]); got[0] != "Eng" || strings.Contains(r.stdout, "Ops") {
		t.Fatalf("teams of user00003:\n%s", r.stdout)
	}
	wide := ok(t, "teams", userName(3), "--kubeconfig", w.kubeconfig, "-o", "wide")
	if !strings.Contains(wide.stdout, "SYNCED") || !strings.Contains(wide.stdout, w.eng.Name) {
		t.Fatalf("-o wide adds the id and the sync condition:\n%s", wide.stdout)
	}
}

func TestAccessThroughTeams(t *testing.T) {
	w := seed(t)
	r := ok(t, "access", userName(1), "--kubeconfig", w.kubeconfig, "-o", "json")
	var got []kubectlroster.Access
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("access: %+v, want a cluster-wide role through Ops and view in %s through Eng", got, w.app)
	}
	cluster, app := got[0], got[1]
	if cluster.Namespace != "" || cluster.Role.Name != w.opsClusterRole || cluster.Team != "Ops" ||
		cluster.Subject == nil || cluster.Subject.Kind != "User" || cluster.Subject.Name != userName(1) ||
		cluster.Binding.Kind != "ClusterTeamRoleBinding" || cluster.Objects[0] != "ClusterRoleBinding/"+w.opsClusterBound {
		t.Errorf("cluster-wide access: %+v", cluster)
	}
	if app.Namespace != w.app || app.Role != (kubectlroster.Ref{Kind: "ClusterRole", Name: "view"}) || app.Team != "Eng" ||
		app.Subject == nil || app.Subject.Kind != "Group" || app.Subject.Name != "oidc:Eng" ||
		app.Binding != (kubectlroster.Ref{Kind: "TeamRoleBinding", Name: "eng-view", Namespace: w.org.Namespace}) {
		t.Errorf("access in %s: %+v", w.app, app)
	}

	// user00002 is inactive: Ops's ClusterRoleBinding (User mode) does not name it.
	r = ok(t, "access", userName(2), "--kubeconfig", w.kubeconfig)
	if !strings.Contains(r.stderr, "is inactive") {
		t.Errorf("stderr does not say the user is inactive: %q", r.stderr)
	}
	var opsLine string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, w.opsClusterRole) {
			opsLine = l
		}
	}
	if !strings.HasPrefix(opsLine, "<cluster-wide>") || !strings.Contains(opsLine, "user inactive: no access in User mode") {
		t.Errorf("Ops line for an inactive user: %q\n%s", opsLine, r.stdout)
	}
	if !strings.Contains(r.stdout, "Group:oidc:Eng") {
		t.Errorf("Eng's group binding is missing:\n%s", r.stdout)
	}
	wide := ok(t, "access", userName(1), "--kubeconfig", w.kubeconfig, "-o", "wide")
	if !strings.Contains(wide.stdout, "RoleBinding/"+w.engRoleBinding) || !strings.Contains(wide.stdout, "TeamRoleBinding/eng-view") {
		t.Errorf("-o wide names the binding and the rendered objects:\n%s", wide.stdout)
	}
}

func TestOrgs(t *testing.T) {
	w := seed(t)
	// A status as the Organization controller writes it, and one SCIM write stamped.
	var org rosterv1.Organization
	ctx := context.Background()
	if err := env.Client.Get(ctx, client.ObjectKey{Name: w.org.Name}, &org); err != nil {
		t.Fatal(err)
	}
	org.Status.Users, org.Status.ActiveUsers, org.Status.Teams = bigTeam, bigTeam-1, 2
	org.Status.Conditions = []metav1.Condition{
		{Type: "Ready", Status: "False", Reason: "SyncPending", Message: "2 teams not yet in the store", LastTransitionTime: metav1.Now()},
		{Type: "Synced", Status: "False", Reason: "SyncPending", Message: "…", LastTransitionTime: metav1.Now()},
	}
	if err := env.Client.Status().Update(ctx, &org); err != nil {
		t.Fatal(err)
	}
	var u rosterv1.OrgUser
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: w.org.Namespace, Name: naming.UserObjectName(userName(7))}, &u); err != nil {
		t.Fatal(err)
	}
	stamped := time.Date(2031, 5, 4, 3, 2, 1, 0, time.UTC)
	rosterv1.StampLastModified(&u, stamped)
	if err := env.Client.Update(ctx, &u); err != nil {
		t.Fatal(err)
	}

	// The SCIM server records the last request in the status (webhook/scim activity.go).
	// 30 minutes, not 5: under 10 minutes kubectl's HumanDuration shows seconds too, so a
	// second passing before the plugin reads the clock turned "5m" into "5m1s" (a CI flake).
	lastRequest := metav1.NewTime(time.Now().Add(-30 * time.Minute).Truncate(time.Second))
	var o rosterv1.Organization
	if err := env.Client.Get(ctx, client.ObjectKey{Name: w.org.Name}, &o); err != nil {
		t.Fatal(err)
	}
	o.Status.LastRequestTime = &lastRequest
	if err := env.Client.Status().Update(ctx, &o); err != nil {
		t.Fatal(err)
	}

	r := ok(t, "orgs", "--kubeconfig", w.kubeconfig)
	line := lineOf(t, r.stdout, w.org.Name)
	want := []string{w.org.Name, w.org.Namespace, "Enabled", "20000", "19999", "2", "False", "(SyncPending)", "False", "(SyncPending)"}
	if f := strings.Fields(line); len(f) != len(want)+2 || strings.Join(f[:len(want)], " ") != strings.Join(want, " ") ||
		!age.MatchString(f[len(f)-2]) || f[len(f)-1] != "30m" {
		t.Errorf("orgs line %q, want %q, a token age and the last request 30m ago", line, want)
	}

	j := ok(t, "orgs", "--kubeconfig", w.kubeconfig, "-o", "json")
	var orgs []kubectlroster.Org
	if err := json.Unmarshal([]byte(j.stdout), &orgs); err != nil {
		t.Fatal(err)
	}
	var got *kubectlroster.Org
	for i := range orgs {
		if orgs[i].Name == w.org.Name {
			got = &orgs[i]
		}
	}
	if got == nil || got.Token != "configured" || got.TokenRotatedAt == nil || got.LastSCIMWrite == nil || !got.LastSCIMWrite.Equal(stamped) ||
		got.LastRequest == nil || !got.LastRequest.Equal(lastRequest.Time) {
		t.Fatalf("orgs -o json: %+v, want a configured token, the last SCIM write %s and the last request %s", got, stamped, lastRequest)
	}

	// Without access to Roster's namespace the token is "unknown", not an error.
	v := ok(t, "orgs", "--kubeconfig", w.viewerConfig)
	if f := strings.Fields(lineOf(t, v.stdout, w.org.Name)); f[len(f)-2] != "unknown" {
		t.Errorf("token age for a user who cannot read Secrets: %q", f[len(f)-2])
	}
}

func TestNamespaceResolutionAndErrors(t *testing.T) {
	w := seed(t)
	// -n, --org and the context's namespace all name the organization.
	for _, args := range [][]string{
		{"-n", w.org.Namespace, "--context", "other"},
		{"--org", w.org.Name, "--context", "other"},
		{"-n" + w.org.Namespace, "--context=other"},
		{}, // the current context's namespace
	} {
		r := ok(t, append([]string{"teams", userName(1), "--kubeconfig", w.kubeconfig}, args...)...)
		if !strings.Contains(r.stdout, "Ops") {
			t.Errorf("%v: %s", args, r.stdout)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"teams", userName(1), "--context", "other"}, 1, `no organization owns namespace "default" (from the kubeconfig context); use -n NAMESPACE or --org NAME`},
		{[]string{"teams", "nobody@example.com"}, 1, `no user "nobody@example.com" in organization "` + w.org.Name + `"`},
		{[]string{"members", "Nope"}, 1, `no team "Nope" in organization`},
		{[]string{"members", "Eng", "--org", "no-such-org"}, 1, `no organization "no-such-org"`},
		{[]string{"members", "Eng", "-o", "xml"}, 2, `unknown output format "xml"`},
		{[]string{"members"}, 2, "members takes exactly one argument"},
		{[]string{"orgs", "extra"}, 2, "orgs takes no argument"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"teams", "x", "-n", "a", "--org", "b"}, 2, "not both"},
		{[]string{"teams", "x", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{}, 2, "a command is required"},
	} {
		r := roster(append(c.args, "--kubeconfig", w.kubeconfig)...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit %d and %q", c.args, r.code, r.stderr, r.stdout, c.code, c.msg)
		}
	}
	if r := roster("--help"); r.code != 0 || !strings.Contains(r.stdout, "kubectl roster members <team>") {
		t.Errorf("--help: %+v", r)
	}
}

// TestBinaryAsKubectlPlugin builds the roster binary, names it kubectl-roster and runs it
// through a kubeconfig file, as kubectl runs a plugin found on PATH.
func TestBinaryAsKubectlPlugin(t *testing.T) {
	w := seed(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-roster")
	build := exec.Command("go", "build", "-o", bin, "github.com/rosterhq/roster")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(name string, args ...string) (string, string, int) {
		cmd := exec.Command(name, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Env = append(os.Environ(), "KUBECONFIG="+w.kubeconfig)
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	// $KUBECONFIG and its current context's namespace.
	out, errOut, code := run(bin, "members", "Ops")
	if code != 0 || !strings.Contains(out, userName(1)) {
		t.Fatalf("kubectl-roster members Ops: exit %d\n%s%s", code, out, errOut)
	}
	// Flags of kubectl's: --kubeconfig, --context, -n, -o.
	out, _, code = run(bin, "--kubeconfig", w.kubeconfig, "--context", "other", "-n", w.org.Namespace, "members", "Eng", "-o", "json")
	var got []kubectlroster.Member
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || len(got) != bigTeam {
		t.Fatalf("exit %d, %d members, %v", code, len(got), err)
	}
	if _, errOut, code = run(bin, "members"); code != 2 || !strings.Contains(errOut, "exactly one argument") {
		t.Fatalf("usage error: exit %d, %q", code, errOut)
	}
	if _, errOut, code = run(bin, "--context", "other", "teams", userName(1)); code != 1 || !strings.Contains(errOut, "use -n NAMESPACE or --org NAME") {
		t.Fatalf("error: exit %d, %q", code, errOut)
	}
	// Under any other name it is roster, whose `kubectl` subcommand is the plugin too.
	roster := filepath.Join(dir, "roster")
	if runtime.GOOS == "windows" {
		t.Skip("no symlinks")
	}
	if err := os.Symlink(bin, roster); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code = run(roster, "members"); code != 2 || !strings.Contains(errOut, `unknown command "members"`) {
		t.Fatalf("roster members: exit %d, %q", code, errOut)
	}
	if out, _, code = run(roster, "kubectl", "teams", userName(1)); code != 0 || !strings.Contains(out, "Ops") {
		t.Fatalf("roster kubectl teams: exit %d\n%s", code, out)
	}
}

var firstRow = regexp.MustCompile(`^user[0-9]{5}@example\.com   User [0-9]{5}     (true|false)$`)

// age is a duration as kubectl prints ages (45s, 2m5s).
var age = regexp.MustCompile(`^[0-9]+[smhd]`)

func lineOf(t *testing.T, out, first string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[0] == first {
			return sc.Text()
		}
	}
	t.Fatalf("no line for %s in:\n%s", first, out)
	return ""
}
