package scim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"

	"github.com/rosterhq/roster/internal/app"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/testutil/scimtest"
	"github.com/rosterhq/roster/webhook/scim"
)

const (
	bulkSchema  = `"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]`
	patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
)

// bulkBody is a BulkRequest with the given operations (JSON objects) and extra fields.
func bulkBody(extra string, ops ...string) string {
	if extra != "" {
		extra += ","
	}
	return "{" + bulkSchema + "," + extra + `"Operations":[` + strings.Join(ops, ",") + "]}"
}

// bulkResult is one entry of a BulkResponse.
type bulkResult struct {
	Method, BulkID, Version, Location, Status string
	Response                                  map[string]any
}

// doBulk sends a bulk request, expects 200 and returns its entries.
func doBulk(t *testing.T, c *scimtest.Client, body string, headers ...string) (*scimtest.Response, []bulkResult) {
	t.Helper()
	r := c.Do(t, http.MethodPost, "/Bulk", body, headers...).Expect(t, http.StatusOK)
	if r.String("schemas.0") != "urn:ietf:params:scim:api:messages:2.0:BulkResponse" {
		t.Fatalf("not a BulkResponse: %s", r.Raw)
	}
	var doc struct{ Operations []bulkResult }
	if err := json.Unmarshal(r.Raw, &doc); err != nil {
		t.Fatalf("BulkResponse %s: %v", r.Raw, err)
	}
	return r, doc.Operations
}

// statuses lists the entries' statuses.
func statuses(res []bulkResult) []string {
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Status
	}
	return out
}

func expectStatuses(t *testing.T, res []bulkResult, want ...string) {
	t.Helper()
	if got := statuses(res); !slices.Equal(got, want) {
		t.Fatalf("operation statuses %v, want %v; entries %+v", got, want, res)
	}
}

// lastSegment is the id at the end of a location.
func lastSegment(loc string) string { return loc[strings.LastIndex(loc, "/")+1:] }

// TestBulkUserIntoGroup: one bulk request creates a user and a group whose members name the
// user by bulkId, in request order and with the reference before its POST; each entry has
// its status, location and version, and the group really has the user.
func TestBulkUserIntoGroup(t *testing.T) {
	c, _ := newOrgClient(t)
	for _, tc := range []struct {
		name     string
		reversed bool
	}{{"in order", false}, {"reference first", true}} {
		t.Run(tc.name, func(t *testing.T) {
			n := strings.ReplaceAll(tc.name, " ", "-")
			user := fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"u1","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk-%s@example.com"}}`, n)
			group := fmt.Sprintf(`{"method":"POST","path":"/Groups","bulkId":"g1","data":{"displayName":"Bulk %s","members":[{"value":"bulkId:u1"}]}}`, n)
			rename := fmt.Sprintf(`{"method":"PATCH","path":"/Groups/bulkId:g1","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":"Bulk %s renamed"}}]}}`, n)
			ops := []string{user, group, rename}
			if tc.reversed {
				ops = []string{rename, group, user}
			}
			_, res := doBulk(t, c, bulkBody("", ops...))
			// Whatever the request's order, the user is created first, then the group, then
			// the rename: the order the references need.
			expectStatuses(t, res, "201", "201", "204") // a group PATCH answers 204, as a single one does
			if res[0].BulkID != "u1" || res[1].BulkID != "g1" || res[2].Method != "PATCH" {
				t.Fatalf("entries out of dependency order: %+v", res)
			}
			uid, gid := lastSegment(res[0].Location), lastSegment(res[1].Location)
			if !strings.HasSuffix(res[0].Location, "/Users/"+uid) || !strings.HasSuffix(res[1].Location, "/Groups/"+gid) ||
				res[2].Location != res[1].Location {
				t.Fatalf("locations: %+v", res)
			}
			for _, r := range res {
				if r.Version == "" || r.Response != nil {
					t.Fatalf("a success has a version and no response body: %+v", r)
				}
			}
			g := c.Do(t, http.MethodGet, "/Groups/"+gid, nil).Expect(t, http.StatusOK)
			if g.String("displayName") != "Bulk "+n+" renamed" || g.String("members.0.value") != uid || g.Header.Get("ETag") != res[2].Version {
				t.Fatalf("group after the bulk: %s (etag %s); entries %+v", g.Raw, g.Header.Get("ETag"), res)
			}
			u := c.Do(t, http.MethodGet, "/Users/"+uid, nil).Expect(t, http.StatusOK)
			if u.String("groups.0.value") != gid {
				t.Fatalf("user after the bulk: %s", u.Raw)
			}
		})
	}
}

// TestBulkFailOnErrors: with failOnErrors 1 the bulk stops at the first failed operation;
// the operations after it are not run and not in the response. Without it every operation
// runs and each failure has its SCIM error.
func TestBulkFailOnErrors(t *testing.T) {
	c, _ := newOrgClient(t)
	post := func(bulkID, userName string) string {
		return fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":%q,"data":{"userName":%q}}`, bulkID, userName)
	}
	c.Do(t, http.MethodPost, "/Users", `{"userName":"taken@example.com"}`).Expect(t, http.StatusCreated)
	_, res := doBulk(t, c, bulkBody(`"failOnErrors":1`,
		post("a", "first@example.com"), post("b", "taken@example.com"), post("c", "never@example.com")))
	expectStatuses(t, res, "201", "409")
	if res[1].Response["scimType"] != "uniqueness" || res[1].Response["status"] != "409" || res[1].Location != "" {
		t.Fatalf("the failed POST's entry: %+v", res[1])
	}
	// The third operation did not run: its userName is free (decided on fresh state).
	c.Do(t, http.MethodPost, "/Users", `{"userName":"never@example.com"}`).Expect(t, http.StatusCreated)

	// Without failOnErrors every operation runs: the failure is reported, the rest applies.
	_, res = doBulk(t, c, bulkBody("",
		post("a", "taken@example.com"), `{"method":"PATCH","path":"/Users/u-nope","data":{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":false}]}}`,
		post("b", "second@example.com"), `{"method":"POST","path":"/Users","bulkId":"bad","data":{"userName":7}}`))
	expectStatuses(t, res, "409", "404", "201", "400")
	if res[3].Response["scimType"] != "invalidValue" || res[1].Location == "" {
		t.Fatalf("entries: %+v", res)
	}
}

// TestBulkReferences: a circular bulkId reference is refused with 409 and creates nothing;
// a reference to a bulkId no POST defines is that operation's 400 invalidValue; one to a POST
// that failed is 409 and does not run; the other operations still run.
func TestBulkReferences(t *testing.T) {
	c, _ := newOrgClient(t)
	_, res := doBulk(t, c, bulkBody("",
		`{"method":"POST","path":"/Groups","bulkId":"a","data":{"displayName":"Cycle A","members":[{"value":"bulkId:b"}]}}`,
		`{"method":"POST","path":"/Groups","bulkId":"b","data":{"displayName":"Cycle B","members":[{"value":"bulkId:a"}]}}`,
		`{"method":"PATCH","path":"/Groups/bulkId:nope","data":{`+patchSchema+`,"Operations":[{"op":"add","path":"members","value":[{"value":"x"}]}]}}`,
		`{"method":"POST","path":"/Users","bulkId":"dup","data":{"userName":"ref@example.com"}}`,
		`{"method":"POST","path":"/Users","bulkId":"dup2","data":{"userName":"ref@example.com"}}`,
		`{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"Needs dup2","members":[{"value":"bulkId:dup2"}]}}`,
	))
	// Runnable operations first, in request order; the cycle last.
	expectStatuses(t, res, "400", "201", "409", "409", "409", "409")
	if res[0].Response["scimType"] != "invalidValue" || !strings.Contains(fmt.Sprint(res[0].Response["detail"]), "bulkId:nope") {
		t.Fatalf("unknown bulkId entry: %+v", res[0])
	}
	if res[2].BulkID != "dup2" || res[2].Response["scimType"] != "uniqueness" {
		t.Fatalf("duplicate user entry: %+v", res[2])
	}
	if res[3].BulkID != "g" || !strings.Contains(fmt.Sprint(res[3].Response["detail"]), "bulkId:dup2 was not created") {
		t.Fatalf("reference to a failed POST: %+v", res[3])
	}
	if res[4].BulkID != "a" || res[5].BulkID != "b" || !strings.Contains(fmt.Sprint(res[4].Response["detail"]), "circular") {
		t.Fatalf("cycle entries: %+v", res[4:])
	}
	// Nothing of the cycle or of the refused group was created: their names are free.
	for _, name := range []string{"Cycle A", "Cycle B", "Needs dup2"} {
		c.Do(t, http.MethodPost, "/Groups", fmt.Sprintf(`{"displayName":%q}`, name)).Expect(t, http.StatusCreated)
	}
}

// TestBulkLimits: maxOperations and maxPayloadSize are advertised and enforced with the RFC's
// 413 and a SCIM error; a refused bulk runs none of its operations. A malformed request is
// 400 and runs nothing either.
func TestBulkLimits(t *testing.T) {
	c, _ := newOrgClient(t)
	spc := c.Do(t, http.MethodGet, "/ServiceProviderConfig", nil).Expect(t, http.StatusOK)
	if spc.Get("bulk.supported") != true || spc.Get("bulk.maxOperations") != float64(scim.DefaultMaxBulkOperations) ||
		spc.Get("bulk.maxPayloadSize") != float64(scim.DefaultMaxBulkBodyBytes) {
		t.Fatalf("bulk in /ServiceProviderConfig: %s", spc.Raw)
	}
	uid := c.Do(t, http.MethodPost, "/Users", `{"userName":"limits@example.com"}`).Expect(t, http.StatusCreated).String("id")
	del := fmt.Sprintf(`{"method":"DELETE","path":"/Users/%s"}`, uid)
	ops := slices.Repeat([]string{del}, scim.DefaultMaxBulkOperations+1)
	r := c.Do(t, http.MethodPost, "/Bulk", bulkBody("", ops...)).ExpectError(t, http.StatusRequestEntityTooLarge, "")
	if !strings.Contains(r.String("detail"), "maxOperations") {
		t.Fatalf("413 detail: %s", r.Raw)
	}
	// Valid JSON whose size is whitespace: only the payload limit refuses it.
	big := "{" + bulkSchema + "," + strings.Repeat(" ", scim.DefaultMaxBulkBodyBytes) + `"Operations":[` + del + "]}"
	c.Do(t, http.MethodPost, "/Bulk", big).ExpectError(t, http.StatusRequestEntityTooLarge, "")
	for _, bad := range []string{
		`{"Operations":[` + del + `]}`, // no BulkRequest schema
		bulkBody("", del, `{"method":"GET","path":"/Users"}`),
		bulkBody("", del, `{"method":"POST","path":"/Users","data":{"userName":"x@example.com"}}`), // no bulkId
		bulkBody("", del, `{"method":"DELETE","path":"/Bulk/x"}`),
		bulkBody(`"failOnErrors":0`, del),
	} {
		if r := c.Do(t, http.MethodPost, "/Bulk", bad); r.Status != http.StatusBadRequest || (r.String("scimType") != "invalidSyntax" && r.String("scimType") != "invalidValue") {
			t.Errorf("malformed bulk %s: %d %s", bad, r.Status, r.Raw)
		}
	}
	// None of the DELETEs ran.
	c.Do(t, http.MethodGet, "/Users/"+uid, nil).Expect(t, http.StatusOK)
	// At the limit, the bulk runs: the first DELETE succeeds, the second fails and stops it.
	_, res := doBulk(t, c, bulkBody(`"failOnErrors":1`, ops[:scim.DefaultMaxBulkOperations]...))
	if len(res) != 2 || res[0].Status != "204" || res[1].Status < "400" {
		t.Fatalf("entries: %+v", res)
	}
}

// TestBulkVersion: an operation's version is its If-Match: a stale one is 412 and changes
// nothing, the current one applies.
func TestBulkVersion(t *testing.T) {
	c, _ := newOrgClient(t)
	_, res := doBulk(t, c, bulkBody("", `{"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"version@example.com"}}`))
	expectStatuses(t, res, "201")
	loc, v1 := res[0].Location, res[0].Version
	path := "/Users/" + lastSegment(loc)
	deactivate := `"data":{` + patchSchema + `,"Operations":[{"op":"replace","value":{"active":false}}]}`
	_, res = doBulk(t, c, bulkBody("",
		fmt.Sprintf(`{"method":"PATCH","path":%q,"version":%q,%s}`, path, v1, deactivate),
		fmt.Sprintf(`{"method":"DELETE","path":%q,"version":%q}`, path, v1),
		// The organization's userNameChanges policy (Reject) applies as to a single PATCH.
		fmt.Sprintf(`{"method":"PATCH","path":%q,"data":{%s,"Operations":[{"op":"replace","path":"userName","value":"renamed@example.com"}]}}`, path, patchSchema),
	))
	expectStatuses(t, res, "200", "412", "400")
	if res[2].Response["scimType"] != "mutability" {
		t.Fatalf("userName change in a bulk: %+v", res[2])
	}
	if res[0].Version == v1 || res[0].Version == "" || res[1].Location != loc {
		t.Fatalf("entries: %+v (created as %s)", res, v1)
	}
	u := c.Do(t, http.MethodGet, path, nil).Expect(t, http.StatusOK)
	if u.Get("active") != false || u.Header.Get("ETag") != res[0].Version {
		t.Fatalf("user after the bulk: %s", u.Raw)
	}
}

// TestBulkAudit: every operation of a bulk request has its own audit line, with its own
// request id and the bulk request's, and the bulk request has one that counts them.
func TestBulkAudit(t *testing.T) {
	logs, c, org := auditedRoster(t, "127.0.0.1")
	resp, res := doBulk(t, c, bulkBody("",
		`{"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"audited@example.com","password":"hunter2-secret"}}`,
		`{"method":"POST","path":"/Groups","bulkId":"g","data":{"displayName":"Audited","members":[{"value":"bulkId:u"}]}}`,
		`{"method":"DELETE","path":"/Users/u-missing"}`,
	), "X-Request-Id: okta-bulk-1")
	expectStatuses(t, res, "201", "201", "404")
	if resp.Header.Get(scim.RequestIDHeader) != "okta-bulk-1" {
		t.Fatalf("bulk request id %q", resp.Header.Get(scim.RequestIDHeader))
	}
	uid, gid := lastSegment(res[0].Location), lastSegment(res[1].Location)
	expectFields(t, auditLine(t, logs, "SCIM write", "okta-bulk-1.1"), map[string]string{
		"bulkRequestId": "okta-bulk-1", "bulkOperation": "1", "operation": "create", "resourceType": "User", "id": uid,
		"status": "201", "org": org.Name, "clientIP": "127.0.0.1", "objects": fmt.Sprintf(`["OrgUser/%s"]`, uid),
	})
	expectFields(t, auditLine(t, logs, "SCIM write", "okta-bulk-1.2"), map[string]string{
		"bulkRequestId": "okta-bulk-1", "operation": "create", "resourceType": "Group", "id": gid, "status": "201",
	})
	expectFields(t, auditLine(t, logs, "SCIM write rejected", "okta-bulk-1.3"), map[string]string{
		"bulkRequestId": "okta-bulk-1", "operation": "delete", "resourceType": "User", "id": "u-missing", "status": "404",
	})
	expectFields(t, auditLine(t, logs, "SCIM write", "okta-bulk-1"), map[string]string{
		"operation": "bulk", "resourceType": "Bulk", "status": "200", "operations": "3", "failedOperations": "1",
	})
	if strings.Contains(logs.String(), "hunter2-secret") {
		t.Fatal("a bulk operation's password was logged")
	}
}

// TestBulkRateLimit: each operation takes one token of the org's rate limit, as the single
// request would; an operation beyond it is 429 while the bulk request itself is 200.
func TestBulkRateLimit(t *testing.T) {
	const burst = 6
	// A token every 1,000 s: none comes back during the test.
	r := env.StartRoster(t, func(c *app.Config) { c.RateLimit, c.RateBurst = 0.001, burst })
	org := env.NewOrg(t, "bulkrate")
	c := scimtest.New(r.BaseURL, org.Name, org.Token)
	// The first 200 takes one token; the 401s before it (cache not synced) take none.
	waitForToken(t, c)
	before := testutil.ToFloat64(metrics.SCIMRateLimited.WithLabelValues(org.Name))
	var ops []string
	for i := range burst {
		ops = append(ops, fmt.Sprintf(`{"method":"POST","path":"/Users","bulkId":"u%d","data":{"userName":"rate%d@example.com"}}`, i, i))
	}
	_, res := doBulk(t, c, bulkBody("", ops...))
	expectStatuses(t, res, "201", "201", "201", "201", "201", "429")
	if res[5].Response["status"] != "429" {
		t.Fatalf("the limited operation's entry: %+v", res[5])
	}
	if got := testutil.ToFloat64(metrics.SCIMRateLimited.WithLabelValues(org.Name)) - before; got != 1 {
		t.Fatalf("scim_rate_limited_total grew by %v, want 1", got)
	}
	// Each operation is counted as the request it stands for, and the bulk once.
	for labels, want := range map[[3]string]float64{
		{"Users", "POST", "201"}: burst - 1, {"Users", "POST", "429"}: 1, {"Bulk", "POST", "200"}: 1,
	} {
		if got := testutil.ToFloat64(metrics.SCIMRequests.WithLabelValues(org.Name, labels[0], labels[1], labels[2])); got != want {
			t.Errorf("scim_requests_total%v = %v, want %v", labels, got, want)
		}
	}
	// The bucket is empty: a single request is limited too.
	c.Do(t, http.MethodGet, "/Users", nil).ExpectError(t, http.StatusTooManyRequests, "")
}

// heldSlices passes writes on to the apiserver, except member slice writes while holding:
// those wait until the writer's context ends (the commit's) or the test ends, and are then
// refused, so nothing held is written.
type heldSlices struct {
	client.Client
	holding atomic.Bool
	arrived chan struct{} // one send per held write
	release chan struct{} // closed at the end of the test
}

func (h *heldSlices) hold(ctx context.Context, o client.Object) error {
	if _, ok := o.(*rosterv1.OrgTeamMemberSlice); !ok || !h.holding.Load() {
		return nil
	}
	h.arrived <- struct{}{}
	select {
	case <-ctx.Done():
	case <-h.release:
	}
	return errors.New("held by the test")
}

func (h *heldSlices) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	if err := h.hold(ctx, o); err != nil {
		return err
	}
	return h.Client.Create(ctx, o, opts...)
}

func (h *heldSlices) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	if err := h.hold(ctx, o); err != nil {
		return err
	}
	return h.Client.Update(ctx, o, opts...)
}

// TestBulkTimeBudget: an operation still running at the end of the bulk's time budget (a
// group commit held at the apiserver, as a slow one would be) is cut and answered 503, the
// operations after it are 503 without running, and the bulk is answered 200 before the
// server's write timeout, which would otherwise lose the whole response; the operation
// before it is durable.
func TestBulkTimeBudget(t *testing.T) {
	const budget, writeTimeout = 2 * time.Second, 5 * time.Second
	held := &heldSlices{arrived: make(chan struct{}, 4), release: make(chan struct{})}
	s := newServerWith(t, 0, func(c client.Client) client.Client { held.Client = c; return held }, writeTimeout)
	t.Cleanup(func() { close(held.release) })
	scim.SetBulkBudget(s.srv, budget)
	ns := s.org.Namespace
	member := s.c.Do(t, http.MethodPost, "/Users", `{"userName":"member@example.com"}`).Expect(t, http.StatusCreated).String("id")
	gid := s.newTeam(t, "Held", nil)

	held.holding.Store(true)
	early := `{"method":"POST","path":"/Users","bulkId":"early","data":{"userName":"early@example.com"}}`
	patch := fmt.Sprintf(`{"method":"PATCH","path":"/Groups/%s","data":{%s,"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}}`, gid, patchSchema, member)
	late := `{"method":"POST","path":"/Users","bulkId":"late","data":{"userName":"late@example.com"}}`
	start := time.Now()
	_, res := doBulk(t, s.c, bulkBody("", early, patch, late)) // a response lost at the write timeout fails here
	took := time.Since(start)
	select {
	case <-held.arrived:
	default:
		t.Fatal("the group's member write never reached the apiserver: nothing was held")
	}
	expectStatuses(t, res, "201", "503", "503")
	if took < budget || took >= writeTimeout {
		t.Fatalf("the bulk answered after %v, want between the budget %v and the write timeout %v", took, budget, writeTimeout)
	}
	if d, _ := res[1].Response["detail"].(string); !strings.Contains(d, "during this operation") {
		t.Errorf("the cut operation's error: %v", res[1].Response)
	}
	if d, _ := res[2].Response["detail"].(string); !strings.Contains(d, "not run") {
		t.Errorf("the operation after the budget: %v", res[2].Response)
	}
	// Durable: in the apiserver, not only in a cache.
	var u rosterv1.OrgUser
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: lastSegment(res[0].Location)}, &u); err != nil {
		t.Fatalf("the operation before the budget is not in the apiserver: %v", err)
	}
	var users rosterv1.OrgUserList
	if err := env.Client.List(context.Background(), &users, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Items {
		if u.Spec.UserName == "late@example.com" {
			t.Fatal("the operation after the budget ran")
		}
	}
}
