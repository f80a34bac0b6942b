package bulk

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/scim/scimerror"
)

const head = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`

func body(ops ...string) []byte { return []byte(head + strings.Join(ops, ",") + "]}") }

func TestDecode(t *testing.T) {
	req, err := Decode([]byte(`{"SCHEMAS":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"operations":[
		{"method":"post","path":"/users","bulkId":"qwerty","data":{"userName":"a","n":12345678901234567890}},
		{"Method":"PATCH","Path":"/Groups/bulkId:ytrewq","Version":"W/\"1-a\"","Data":{"Operations":[{"op":"add","path":"members","value":[{"value":"bulkId:qwerty"}]}]}},
		{"method":"DELETE","path":"/Users/u-1"}]}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	if req.FailOnErrors != 1 || len(req.Operations) != 3 {
		t.Fatalf("%+v", req)
	}
	post, patch, del := req.Operations[0], req.Operations[1], req.Operations[2]
	if post.Method != "POST" || post.Endpoint != "Users" || post.ID != "" || post.BulkID != "qwerty" || len(post.Refs) != 0 {
		t.Errorf("POST: %+v", post)
	}
	if patch.Endpoint != "Groups" || patch.ID != "bulkId:ytrewq" || patch.Version != `W/"1-a"` || !slices.Equal(patch.Refs, []string{"qwerty", "ytrewq"}) {
		t.Errorf("PATCH: %+v", patch)
	}
	if del.Method != "DELETE" || del.ID != "u-1" || del.Data != nil {
		t.Errorf("DELETE: %+v", del)
	}
	// Numbers reach the operation exactly as sent.
	_, data, err := Resolve(post, nil)
	if err != nil || !strings.Contains(string(data), "12345678901234567890") {
		t.Errorf("data %s, %v", data, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	del := `{"method":"DELETE","path":"/Users/u-1"}`
	for name, tc := range map[string]struct {
		body   string
		status int
		typ    scimerror.ScimType
	}{
		"not JSON":           {`{`, 400, scimerror.InvalidSyntax},
		"trailing data":      {string(body(del)) + `{}`, 400, scimerror.InvalidSyntax},
		"no schema":          {`{"Operations":[` + del + `]}`, 400, scimerror.InvalidSyntax},
		"no operations":      {`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]}`, 400, scimerror.InvalidValue},
		"empty":              {string(body()), 400, scimerror.InvalidValue},
		"too many":           {string(body(del, del, del)), 413, ""},
		"failOnErrors 0":     {`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":0,"Operations":[` + del + `]}`, 400, scimerror.InvalidValue},
		"failOnErrors 1.5":   {`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1.5,"Operations":[` + del + `]}`, 400, scimerror.InvalidValue},
		"GET":                {string(body(`{"method":"GET","path":"/Users"}`)), 400, scimerror.InvalidValue},
		"POST without id":    {string(body(`{"method":"POST","path":"/Users","data":{}}`)), 400, scimerror.InvalidValue},
		"POST to a resource": {string(body(`{"method":"POST","path":"/Users/u-1","bulkId":"a","data":{}}`)), 400, scimerror.InvalidValue},
		"PUT to collection":  {string(body(`{"method":"PUT","path":"/Users","data":{}}`)), 400, scimerror.InvalidValue},
		"no data":            {string(body(`{"method":"PATCH","path":"/Users/u-1"}`)), 400, scimerror.InvalidValue},
		"other endpoint":     {string(body(`{"method":"DELETE","path":"/Schemas/x"}`)), 400, scimerror.InvalidValue},
		"nested bulk":        {string(body(`{"method":"POST","path":"/Bulk","bulkId":"a","data":{}}`)), 400, scimerror.InvalidValue},
		"deeper path":        {string(body(`{"method":"DELETE","path":"/Users/u-1/x"}`)), 400, scimerror.InvalidValue},
		"query":              {string(body(`{"method":"DELETE","path":"/Users/u-1?x=1"}`)), 400, scimerror.InvalidValue},
		"relative":           {string(body(`{"method":"DELETE","path":"Users/u-1"}`)), 400, scimerror.InvalidValue},
		"search":             {string(body(`{"method":"DELETE","path":"/Users/.search"}`)), 400, scimerror.InvalidValue},
		"bad bulkId":         {string(body(`{"method":"POST","path":"/Users","bulkId":"a b","data":{}}`)), 400, scimerror.InvalidValue},
		"duplicate bulkId":   {string(body(`{"method":"POST","path":"/Users","bulkId":"a","data":{}}`, `{"method":"POST","path":"/Groups","bulkId":"a","data":{}}`)), 400, scimerror.InvalidValue},
		"method not string":  {string(body(`{"method":1,"path":"/Users/u-1"}`)), 400, scimerror.InvalidValue},
		"operation array":    {string(body(`[]`)), 400, scimerror.InvalidValue},
	} {
		_, err := Decode([]byte(tc.body), 2)
		se, ok := scimerror.As(err)
		if !ok || se.Status != tc.status || se.ScimType != tc.typ {
			t.Errorf("%s: %v, want %d %s", name, err, tc.status, tc.typ)
		}
	}
}

func plan(t *testing.T, ops ...string) []Step {
	t.Helper()
	req, err := Decode(body(ops...), 100)
	if err != nil {
		t.Fatal(err)
	}
	return Plan(req.Operations)
}

func order(steps []Step) (idx []int, status []int) {
	for _, s := range steps {
		idx = append(idx, s.Index)
		st := 0
		if s.Err != nil {
			st = s.Err.Status
		}
		status = append(status, st)
	}
	return idx, status
}

func TestPlan(t *testing.T) {
	user := `{"method":"POST","path":"/Users","bulkId":"u","data":{"userName":"a"}}`
	group := `{"method":"POST","path":"/Groups","bulkId":"g","data":{"members":[{"value":"bulkId:u"}]}}`
	patch := `{"method":"PATCH","path":"/Groups/bulkId:g","data":{}}`
	del := `{"method":"DELETE","path":"/Users/u-1"}`
	for name, tc := range map[string]struct {
		ops         []string
		idx, status []int
	}{
		"request order":  {[]string{user, group, patch, del}, []int{0, 1, 2, 3}, []int{0, 0, 0, 0}},
		"forward refs":   {[]string{patch, group, del, user}, []int{2, 3, 1, 0}, []int{0, 0, 0, 0}},
		"unknown bulkId": {[]string{`{"method":"DELETE","path":"/Users/bulkId:x"}`, del}, []int{0, 1}, []int{400, 0}},
		"self reference": {[]string{`{"method":"POST","path":"/Groups","bulkId":"s","data":{"displayName":"bulkId:s"}}`, del}, []int{1, 0}, []int{0, 409}},
		"cycle": {[]string{
			`{"method":"POST","path":"/Groups","bulkId":"a","data":{"members":[{"value":"bulkId:b"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"b","data":{"members":[{"value":"bulkId:a"}]}}`,
			`{"method":"PATCH","path":"/Groups/bulkId:a","data":{}}`, del,
		}, []int{3, 0, 1, 2}, []int{0, 409, 409, 409}},
	} {
		idx, status := order(plan(t, tc.ops...))
		if !slices.Equal(idx, tc.idx) || !slices.Equal(status, tc.status) {
			t.Errorf("%s: order %v statuses %v, want %v %v", name, idx, status, tc.idx, tc.status)
		}
	}
}

func TestResolve(t *testing.T) {
	req, err := Decode(body(`{"method":"PATCH","path":"/Groups/bulkId:g","data":{"Operations":[
		{"op":"remove","path":"members[value eq \"bulkId:u\"]"},{"op":"add","value":[{"value":"bulkId:u"},{"value":"bulkId:u2"},{"value":"xbulkId:"}]}]}}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	op := req.Operations[0]
	if _, _, err := Resolve(op, map[string]string{"g": "g-1", "u": "u-1"}); err == nil || err.(*scimerror.Error).Status != http.StatusConflict {
		t.Fatalf("a reference to a bulkId that created nothing: %v", err)
	}
	id, data, err := Resolve(op, map[string]string{"g": "g-1", "u": "u-1", "u2": "u-2"})
	if err != nil || id != "g-1" {
		t.Fatal(id, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if strings.Contains(s, "bulkId:u") || !strings.Contains(s, `members[value eq \"u-1\"]`) || !strings.Contains(s, `"u-2"`) || !strings.Contains(s, `"xbulkId:"`) {
		t.Fatalf("resolved data %s", s)
	}
	if op.ID != "bulkId:g" || !strings.Contains(op.Data["Operations"].([]any)[0].(map[string]any)["path"].(string), "bulkId:u") {
		t.Fatal("Resolve changed the operation")
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Response([]Result{{Method: "POST", BulkID: "q", Location: "https://x/Users/u-1", Version: `W/"1"`, Status: 201}}))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Operations":[{"method":"POST","bulkId":"q","version":"W/\"1\"","location":"https://x/Users/u-1","status":"201"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// FuzzDecode: the bulk decoder never panics; what it refuses is a 400 invalidSyntax or
// invalidValue (or the 413 of too many operations), never anything else; what it accepts is
// well formed, and planning and resolving it never panics and orders every operation once.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		string(body(`{"method":"POST","path":"/Users","bulkId":"qwerty","data":{"userName":"a"}}`,
			`{"method":"POST","path":"/Groups","bulkId":"ytrewq","data":{"displayName":"g","members":[{"value":"bulkId:qwerty"}]}}`)),
		string(body(`{"method":"PATCH","path":"/Groups/bulkId:a","version":"W/\"1\"","data":{"Operations":[]}}`, `{"method":"DELETE","path":"/Users/u-1"}`)),
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":2,"Operations":[{"method":"put","path":"/groups/x","data":{}}]}`,
		string(body(`{"method":"POST","path":"/Groups","bulkId":"a","data":{"m":"bulkId:b"}}`, `{"method":"POST","path":"/Groups","bulkId":"b","data":{"m":"bulkId:a"}}`)),
		`{}`, `[]`, `null`, ``, `{"schemas":"x"}`, string(body(`null`)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := Decode(b, 50)
		if err != nil {
			se, ok := scimerror.As(err)
			if !ok || !(se.Status == 400 && (se.ScimType == scimerror.InvalidSyntax || se.ScimType == scimerror.InvalidValue) ||
				se.Status == 413 && se.ScimType == "") {
				t.Fatalf("Decode(%q) error %v", b, err)
			}
			if req != nil {
				t.Fatalf("Decode(%q) refused with a request", b)
			}
			return
		}
		if len(req.Operations) == 0 || len(req.Operations) > 50 || req.FailOnErrors < 0 {
			t.Fatalf("accepted %+v", req)
		}
		created := map[string]string{}
		seen := map[int]bool{}
		for _, st := range Plan(req.Operations) {
			if seen[st.Index] {
				t.Fatalf("operation %d planned twice", st.Index)
			}
			seen[st.Index] = true
			op := req.Operations[st.Index]
			if op.Method == http.MethodPost && (op.BulkID == "" || op.ID != "") || op.Method != http.MethodPost && op.ID == "" {
				t.Fatalf("accepted a malformed operation %+v", op)
			}
			if st.Err != nil {
				continue
			}
			if _, _, err := Resolve(op, created); err != nil {
				t.Fatalf("a planned operation's references are not created: %v", err)
			}
			if op.Method == http.MethodPost {
				created[op.BulkID] = "id-" + op.BulkID
			}
		}
		if len(seen) != len(req.Operations) {
			t.Fatalf("planned %d of %d operations", len(seen), len(req.Operations))
		}
	})
}
