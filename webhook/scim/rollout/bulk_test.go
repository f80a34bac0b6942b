package rollout

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/app"
)

// TestShutdownBulk: a bulk request still running at --shutdown-timeout is answered 200, not
// cut off: the operation held at the apiserver and the ones after it each get the 503 a
// single request would get, so the identity provider retries exactly those.
func TestShutdownBulk(t *testing.T) {
	const timeout = time.Second
	m := env.StartRoster(t, func(c *app.Config) { c.ShutdownTimeout = timeout })
	org := env.NewOrg(t, "bulkstop")
	c := &idp{base: m.BaseURL + "/scim/v2/" + org.Name, token: org.Token, http: &http.Client{Timeout: 30 * time.Second}}
	eventually(t, func() bool { return c.try(http.MethodGet, "/Users", "").status == http.StatusOK }, "token never accepted")

	held := holdWrites(t, org.Namespace)
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
		{"method":"POST","path":"/Users","bulkId":"a","data":{"userName":"held@example.com"}},
		{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"after@example.com"}}]}`
	type reply struct {
		status int
		raw    []byte
		err    error
	}
	replies := make(chan reply, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, c.base+"/Bulk", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := c.http.Do(req)
		if err != nil {
			replies <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		replies <- reply{status: resp.StatusCode, raw: raw, err: err}
	}()
	held.await(t, "OrgUser")
	stopped := make(chan struct{})
	go func() { m.Stop(); close(stopped) }()

	r := <-replies
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("bulk at the shutdown timeout: %d %s %v, want 200", r.status, r.raw, r.err)
	}
	var doc struct {
		Operations []struct {
			BulkID, Status string
			Response       struct{ Status string }
		}
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil || len(doc.Operations) != 2 {
		t.Fatalf("BulkResponse %s: %v", r.raw, err)
	}
	for _, op := range doc.Operations {
		if op.Status != "503" || op.Response.Status != "503" {
			t.Errorf("operation %s: %+v, want 503 with its SCIM error (%s)", op.BulkID, op, r.raw)
		}
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the manager did not stop")
	}
}
