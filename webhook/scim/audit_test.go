package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/internal/testutil/testenv"
	"github.com/rosterhq/roster/webhook/scim"
)

// auditedRoster starts a manager whose SCIM logs (Info and the V(1) request lines) a test
// reads, trusting X-Forwarded-For from the given proxies, and a client of a fresh org on it.
func auditedRoster(t *testing.T, trusted ...string) (*testenv.LogRecorder, *scimtest.Client, testenv.Org) {
	t.Helper()
	logs, log := testenv.NewLogRecorder(1)
	r := env.StartRoster(t, func(c *app.Config) { c.SCIMLog, c.TrustedProxies = &log, trusted })
	org := env.NewOrg(t, "audit")
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	waitForToken(t, c)
	return logs, c, org
}

// auditLine returns the one audit line of the request with id requestID.
func auditLine(t *testing.T, logs *testenv.LogRecorder, msg, requestID string) map[string]any {
	t.Helper()
	lines := logs.Find(msg, map[string]string{"audit": "true", "requestId": requestID})
	if len(lines) != 1 {
		t.Fatalf("want one %q line with requestId %q, found %d in:\n%s", msg, requestID, len(lines), logs)
	}
	if lvl := testenv.FieldString(lines[0]["level"]); lvl != "0" {
		t.Errorf("audit line at V(%s), want Info: %v", lvl, lines[0])
	}
	return lines[0]
}

// expectFields fails for each field of line that differs from want.
func expectFields(t *testing.T, line map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := testenv.FieldString(line[k]); got != v {
			t.Errorf("audit line %s = %s, want %s; line: %v", k, got, v, line)
		}
	}
}

func objectsOf(line map[string]any) []string {
	var out []string
	for _, o := range line["objects"].([]any) {
		out = append(out, o.(string))
	}
	return out
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAuditLine: a SCIM write's audit line names the request id (the ingress's, echoed in the
// response), the client address (the peer: X-Forwarded-For from an untrusted peer is not
// believed), the org, the resource, the status and every Kubernetes object the write made,
// which the apiserver holds under those names. A malformed request id is replaced, never
// logged; a refused write and a 401 are on record with their ids too.
func TestAuditLine(t *testing.T) {
	// The test client plays the ingress: a trusted proxy on loopback.
	logs, c, org := auditedRoster(t, "127.0.0.1")

	// A well-formed id from the ingress is kept, echoed and logged.
	resp := c.Do(t, http.MethodPost, "/Users", `{"userName":"audit@example.com"}`,
		"X-Request-Id: okta-7f3a2c.1").Expect(t, http.StatusCreated)
	if got := resp.Header.Get(scim.RequestIDHeader); got != "okta-7f3a2c.1" {
		t.Fatalf("response X-Request-Id = %q, want the request's", got)
	}
	uid := resp.String("id")
	line := auditLine(t, logs, "SCIM write", "okta-7f3a2c.1")
	expectFields(t, line, map[string]string{
		"clientIP": "127.0.0.1", "org": org.Name, "namespace": org.Namespace, "operation": "create",
		"resourceType": "User", "id": uid, "status": "201", "userAgent": "Okta SCIM Client 1.0.0",
		"objects": fmt.Sprintf(`["OrgUser/%s"]`, uid),
	})
	if reqLines := logs.Find("SCIM request", map[string]string{"requestId": "okta-7f3a2c.1", "clientIP": "127.0.0.1"}); len(reqLines) != 1 {
		t.Errorf("want the request line with the request id and client address, got %v", reqLines)
	}

	// Malformed ids are replaced by generated ones, in the response and the logs alike.
	junk := []string{`okta "quoted" id`, strings.Repeat("a", 129), "id\u00e9"}
	var gid string
	for i, bad := range junk {
		resp := c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":"Audit %d","members":[{"value":%q}]}`, i, uid),
			"X-Request-Id: "+bad).Expect(t, http.StatusCreated)
		id := resp.Header.Get(scim.RequestIDHeader)
		if !generatedID.MatchString(id) {
			t.Fatalf("malformed X-Request-Id %q answered with %q, want a generated id", bad, id)
		}
		gid = resp.String("id")
		line := auditLine(t, logs, "SCIM write", id)
		expectFields(t, line, map[string]string{"operation": "create", "resourceType": "Group", "id": gid, "status": "201"})
		// The team and every slice the apiserver holds for it are named.
		var sl rosterv1.OrgTeamMemberSliceList
		if err := env.Client.List(context.Background(), &sl, client.InNamespace(org.Namespace), client.MatchingLabels{rosterv1.TeamLabel: gid}); err != nil || len(sl.Items) == 0 {
			t.Fatalf("slices of %s: %d %v", gid, len(sl.Items), err)
		}
		objs := objectsOf(line)
		for _, want := range []string{"OrgTeam/" + gid, "OrgTeamMemberSlice/" + sl.Items[0].Name, "OrgTeamNameClaim/" + naming.TeamNameClaim(fmt.Sprintf("Audit %d", i))} {
			if !slices.Contains(objs, want) {
				t.Errorf("objects %v lack %s", objs, want)
			}
		}
	}
	for _, bad := range junk {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("the malformed id %q was logged", bad)
		}
	}

	// Without an id one is generated; each request gets its own.
	first := c.Do(t, http.MethodGet, "/Users/"+uid, nil).Expect(t, http.StatusOK).Header.Get(scim.RequestIDHeader)
	second := c.Do(t, http.MethodGet, "/Users/"+uid, nil).Expect(t, http.StatusOK).Header.Get(scim.RequestIDHeader)
	if !generatedID.MatchString(first) || first == second {
		t.Errorf("generated ids %q, %q: want two different 32-hex-digit ids", first, second)
	}

	// A refused write is on record with its id, status, scimType and detail, and wrote nothing.
	resp = c.Do(t, http.MethodPatch, "/Users/"+uid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":"x@example.com"}]}`,
		"X-Request-Id: refused-1").ExpectError(t, http.StatusBadRequest, "mutability")
	line = auditLine(t, logs, "SCIM write rejected", "refused-1")
	expectFields(t, line, map[string]string{"operation": "patch", "id": uid, "status": "400", "scimType": "mutability", "objects": "[]"})
	if !strings.Contains(testenv.FieldString(line["detail"]), "userName is immutable") {
		t.Errorf("rejection detail: %v", line["detail"])
	}

	// Failed authentication: the 401 carries an id, and the attempt is on record.
	anon := *c
	anon.Token = "not-the-token"
	resp = anon.Do(t, http.MethodDelete, "/Users/"+uid, nil).Expect(t, http.StatusUnauthorized)
	id := resp.Header.Get(scim.RequestIDHeader)
	if !generatedID.MatchString(id) {
		t.Fatalf("401 without a generated X-Request-Id: %q", id)
	}
	expectFields(t, auditLine(t, logs, "SCIM write rejected", id), map[string]string{
		"clientIP": "127.0.0.1", "operation": "delete", "resourceType": "User", "id": uid, "status": "401", "objects": "[]",
	})
	if strings.Contains(logs.String(), "not-the-token") {
		t.Error("a presented token was logged")
	}

	// A delete names the team, the delete-collection of its slices and the claim it frees.
	resp = c.Do(t, http.MethodDelete, "/Groups/"+gid, nil, "X-Request-Id: delete-1").Expect(t, http.StatusNoContent)
	expectFields(t, auditLine(t, logs, "SCIM write", "delete-1"), map[string]string{
		"operation": "delete", "status": "204",
		"objects": fmt.Sprintf(`["OrgTeam/%s","OrgTeamMemberSlice/*?labelSelector=%s=%s","OrgTeamNameClaim/%s"]`,
			gid, rosterv1.TeamLabel, gid, naming.TeamNameClaim(fmt.Sprintf("Audit %d", len(junk)-1))),
	})

	// Unknown routes answer with an id too.
	if id := c.Do(t, http.MethodGet, "/Nope", nil).Expect(t, http.StatusNotFound).Header.Get(scim.RequestIDHeader); !generatedID.MatchString(id) {
		t.Errorf("404 without X-Request-Id: %q", id)
	}
}

// TestAuditUntrustedPeer: a caller that is not a trusted proxy can neither choose the logged
// client address (X-Forwarded-For) nor the request id (X-Request-Id, which would let it pass
// its lines off as another request's): both come from the connection and a fresh id.
func TestAuditUntrustedPeer(t *testing.T) {
	logs, c, _ := auditedRoster(t, "10.0.0.0/8")
	const spoofed, forged = "203.0.113.7", "okta-7f3a2c.1"
	for _, tok := range []string{c.Token, "not-the-token"} {
		caller := *c
		caller.Token = tok
		resp := caller.Do(t, http.MethodPost, "/Users", `{"userName":"untrusted@example.com"}`,
			"X-Request-Id: "+forged, "X-Forwarded-For: "+spoofed)
		id := resp.Header.Get(scim.RequestIDHeader)
		if !generatedID.MatchString(id) {
			t.Fatalf("X-Request-Id from an untrusted peer answered with %q, want a generated id", id)
		}
		msg := "SCIM write"
		if resp.Status >= 400 {
			msg = "SCIM write rejected"
		}
		expectFields(t, auditLine(t, logs, msg, id), map[string]string{"clientIP": "127.0.0.1"})
	}
	for _, s := range []string{spoofed, forged} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("%q from an untrusted peer was believed:\n%s", s, logs)
		}
	}
}

// TestAuditClientAddressFromTrustedProxy: behind a trusted proxy (the ingress) the client
// address is the nearest hop of X-Forwarded-For the proxy did not vouch for: what a client
// prepends to the header itself is not believed.
func TestAuditClientAddressFromTrustedProxy(t *testing.T) {
	logs, c, _ := auditedRoster(t, "127.0.0.1")
	c.Do(t, http.MethodPost, "/Users", `{"userName":"proxied@example.com"}`,
		"X-Request-Id: proxied-1", "X-Forwarded-For: 198.51.100.9, 203.0.113.7").Expect(t, http.StatusCreated)
	expectFields(t, auditLine(t, logs, "SCIM write", "proxied-1"), map[string]string{"clientIP": "203.0.113.7"})
}
