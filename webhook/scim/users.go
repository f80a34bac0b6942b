package scim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	corev1 "k8s.io/api/core/v1"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/directory"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/naming"
	"github.com/rosterhq/roster/internal/order"
	"github.com/rosterhq/roster/internal/scim/document"
	"github.com/rosterhq/roster/internal/scim/filter"
	"github.com/rosterhq/roster/internal/scim/orgschema"
	"github.com/rosterhq/roster/internal/scim/patch"
	"github.com/rosterhq/roster/internal/scim/schema"
	"github.com/rosterhq/roster/internal/scim/scimerror"
	"github.com/rosterhq/roster/internal/slimuser"
	"github.com/rosterhq/roster/internal/userscan"
)

// getUser serves GET /Users/{id}.
func (s *Server) getUser(c *gin.Context) {
	u, err := s.dir.GetUser(c.Request.Context(), orgOf(c).Spec.Namespace, c.Param("id"))
	if err != nil {
		writeError(c, userErr(err, c.Param("id")))
		return
	}
	if notModified(c, directory.UserVersion(u)) {
		return
	}
	s.writeUser(c, http.StatusOK, u)
}

// writeUser renders one user with its ETag. Without attributes/excludedAttributes (every
// POST, PUT and PATCH of Okta and Entra) the document is encoded in one pass
// (document.MarshalUser), not built as a map, projected and encoded — unless the user has
// custom extension values: which of them are returned depends on the organization's
// declaration (returned, attributes no longer declared), which only the projection knows.
func (s *Server) writeUser(c *gin.Context, status int, u *rosterv1.OrgUser) {
	c.Header("ETag", document.ETag(directory.UserVersion(u)))
	if attrs, excluded := projection(c); len(attrs) > 0 || len(excluded) > 0 || len(u.Spec.Extensions) > 0 {
		writeJSON(c, status, s.renderUser(c, u, s.userDoc(c, u)))
		return
	}
	body, err := document.MarshalUser(u, s.userMeta(c, u), s.groupsOf(c, u))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Data(status, ContentType, body)
}

// listUsers serves GET /Users and POST /Users/.search: filter, sort, page and project, all
// from the cache and its ordered index.
func (s *Server) listUsers(c *gin.Context) {
	rt := userType(c)
	p, err := parseListParams(c, rt)
	if err != nil {
		writeError(c, err)
		return
	}
	p = p.of(rt)
	defer releaseBuffers(c) // once the page is written
	sel, page, err := s.searchUsers(c, p)
	if err != nil {
		writeError(c, err)
		return
	}
	writeSelection(c, p, sel, page)
}

// searchUsers returns the users p selects and the encoded page of them it asks for.
func (s *Server) searchUsers(c *gin.Context, p listParams) (selection, []listItem, error) {
	return s.userPage(c, p, s.dir.SelectUsers, s.groupsOf)
}

// userPage is searchUsers with the index selection and the groups of a user passed in: the
// page benchmark (page_bench_test.go) renders pages of an index it built, without a cluster.
func (s *Server) userPage(c *gin.Context, p listParams, selectUsers selector,
	groupsOf func(*gin.Context, *rosterv1.OrgUser) []any,
) (selection, []listItem, error) {
	rt := userType(c)
	var q order.Query
	if p.Filter != nil {
		if err := s.narrowUsers(c, p.Filter, &q); err != nil {
			return selection{}, nil, err
		}
	}
	withGroups := mentionsGroups(p.Filter)
	// The index's entries hold the cache's compact users (internal/slimuser): a document is
	// built from a decoded copy.
	doc := func(e *order.Entry) (map[string]any, error) {
		u := e.Object.(*slimuser.User).OrgUser()
		d := s.userDoc(c, u)
		if withGroups {
			addGroups(d, groupsOf(c, u))
		}
		return d, nil
	}
	var match func(*order.Entry, func() map[string]any) (bool, error)
	if p.Filter != nil && !withGroups {
		// Only the attributes the filter names are built (groups are not a spec field: a
		// filter on them takes the whole document, with the groups added): from the index
		// entry when it holds them, else decoded (userscan.Match).
		m := userscan.Match(rt, p.Filter, func(u *rosterv1.OrgUser) document.Meta { return s.userMeta(c, u) })
		match = func(e *order.Entry, _ func() map[string]any) (bool, error) { return m(e), nil }
	}
	sel, err := s.selectPage(c, p, rt, q, doc, match, selectUsers)
	if err != nil {
		return sel, nil, err
	}
	items, err := s.encodeUsers(c, p, listedOf[*slimuser.User](sel), groupsOf)
	return sel, items, err
}

// encodeUsers encodes the users of a page. Each is encoded straight to JSON
// (document.UserEncoder), decoding only what it writes, when the projection keeps attributes
// whole and the user has no custom extension values; else its document is built, projected
// and marshalled. Both give the same bytes. The encoded users share a buffer of the request
// (pageBuffer): the handler releases it once the page is written.
func (s *Server) encodeUsers(c *gin.Context, p listParams, page []listed[*slimuser.User],
	groupsOf func(*gin.Context, *rosterv1.OrgUser) []any,
) ([]listItem, error) {
	rt := userType(c)
	proj := schema.NewProjection(rt, p.Attributes, p.Excluded) // once for the page
	enc, direct := document.NewUserEncoder(rt, proj)
	var mask slimuser.Mask // what the encoder reads: the document's metadata and the spec fields it writes
	if direct {
		specMask, ok := slimuser.SpecMask(enc.SpecFields()...)
		mask, direct = slimuser.Identity|specMask, ok
	}
	// Where the organization declares custom extensions, a user may carry values the encoder
	// refuses (Encodes): decode all a document reads (its metadata and the whole spec) once,
	// so that such a user's document is built from the same decode, not a second one.
	whole := direct && len(rt.Custom) > 0
	if whole {
		mask = slimuser.Identity | slimuser.Spec
	}
	usersURL := s.resourceURL(c, "Users", "")
	items := make([]listItem, len(page))
	bp := pageBuffer(c, 768*len(page)) // the page's documents, one after the other
	buf := *bp
	defer func() { *bp = buf }()
	var decoded rosterv1.OrgUser // reused: the encoder keeps nothing of a user
	var err error
	for i, e := range page {
		if direct {
			decoded = rosterv1.OrgUser{}
			e.obj.DecodeInto(&decoded, mask)
		}
		if u := &decoded; direct && enc.Encodes(u) {
			groups, built := e.doc["groups"].([]any) // added by a filter on groups
			if !built && enc.Groups() {
				groups = groupsOf(c, u)
			}
			start := len(buf)
			if buf, err = enc.Append(buf, u, userMetaIn(usersURL, u), groups); err != nil {
				return nil, err
			}
			items[i] = listItem{head: buf[start:len(buf):len(buf)]}
			continue
		}
		// With whole, decoded holds all the document reads; the next user overwrites it only
		// once this one's document is marshalled, below.
		u := &decoded
		if !whole {
			u = e.obj.OrgUser()
		}
		if e.doc == nil {
			e.doc = s.userDoc(c, u)
		}
		head, err := json.Marshal(renderUserDoc(proj, e.doc, func() []any { return groupsOf(c, u) }))
		if err != nil {
			return nil, err
		}
		items[i] = listItem{head: head}
	}
	return items, nil
}

// narrowUsers narrows q's candidates to the users a filter can match when it has an indexed
// equality conjunct: userName, externalId and emails.value are looked up in the ordered index
// (q.Lookup: under the index's lock, once it holds this replica's own writes, as every list
// does), an id is read by name. The filter is still applied to each candidate.
func (s *Server) narrowUsers(c *gin.Context, f filter.Expr, q *order.Query) error {
	for _, term := range filter.EqualityTerms(f) {
		value, ok := term.Value.(string)
		if !ok {
			continue
		}
		switch path := strings.ToLower(term.Path.String()); path {
		case "username", strings.ToLower(schema.UserSchema + ":userName"):
			q.Lookup = &order.Lookup{Sort: order.UserName, Value: naming.Fold(value)}
		case "externalid":
			q.Lookup = &order.Lookup{Sort: order.ExternalID, Value: value} // caseExact
		case "emails.value", "emails":
			q.Lookup = &order.Lookup{Email: true, Value: naming.Fold(value)}
		case "id":
			q.Candidates = []*order.Entry{}
			u, err := s.dir.GetUser(c.Request.Context(), orgOf(c).Spec.Namespace, value)
			if err != nil {
				return ignoreNotFound(err)
			}
			q.Candidates = append(q.Candidates, order.UserEntry(slimuser.New(u)))
		default:
			continue
		}
		return nil
	}
	return nil
}

// createUser serves POST /Users.
func (s *Server) createUser(c *gin.Context) {
	spec, _, err := s.readUserSpec(c, document.NewUserSpec)
	if err != nil {
		writeError(c, err)
		return
	}
	u, err := s.dir.CreateUser(c.Request.Context(), orgOf(c), spec)
	if err != nil {
		s.audit(c, "create", "User", "") // nothing was created: no id to name
		writeError(c, userErr(err, ""))
		return
	}
	s.audit(c, "create", "User", u.Name)
	c.Header("Location", s.resourceURL(c, "Users", u.Name))
	s.writeUser(c, http.StatusCreated, u)
}

// readUserSpec reads a POST/PUT User body into an OrgUserSpec with toSpec; it also returns the
// normalized document.
func (s *Server) readUserSpec(c *gin.Context, toSpec func(map[string]any) (rosterv1.OrgUserSpec, error)) (rosterv1.OrgUserSpec, map[string]any, error) {
	doc, err := s.readResource(c, userType(c))
	if err != nil {
		return rosterv1.OrgUserSpec{}, nil, err
	}
	spec, err := toSpec(doc)
	return spec, doc, err
}

// userNameGuard enforces that usernames are immutable, as the organization's
// spec.userNameChanges says: a different userName is 400 mutability (Reject) or is dropped
// while the rest of the request applies (Ignore); a change of case only is not a change and
// keeps the stored spelling. It remembers what it refused, for the metric, the audit line and
// the event; mutate functions may run more than once, so it keeps the last run's finding.
type userNameGuard struct {
	ignore bool
	// asked is the userName the request asked for when it differed from the stored one.
	asked, kept string
	// deactivation: the refused request also set active to false on an active user.
	deactivation bool
}

// keep applies the policy to spec, planned against the stored user.
func (g *userNameGuard) keep(stored *rosterv1.OrgUser, spec *rosterv1.OrgUserSpec) error {
	g.asked, g.kept, g.deactivation = "", "", false
	current := stored.Spec.UserName
	if naming.Fold(spec.UserName) != naming.Fold(current) {
		g.asked, g.kept = spec.UserName, current
		g.deactivation = stored.Spec.IsActive() && !spec.IsActive()
		if !g.ignore {
			return scimerror.BadRequest(scimerror.Mutability, "userName is immutable: cannot change %q to %q", current, spec.UserName)
		}
	}
	spec.UserName = current
	return nil
}

// report counts and records a refused userName change once the request is decided: a metric
// either way, the audit line's fields, and with Ignore a Warning event on the user (which the
// identity provider never sees: its request succeeded).
func (s *Server) reportUserNameChange(c *gin.Context, g *userNameGuard, u *rosterv1.OrgUser, err error) {
	if g.asked == "" {
		return
	}
	org := orgOf(c)
	policy := "reject"
	if g.ignore {
		policy = "ignore"
	}
	if g.ignore && err != nil {
		return // the request failed for another reason: nothing was ignored
	}
	metrics.UserNameChangesRefused.WithLabelValues(org.Name, policy).Inc()
	if g.ignore {
		auditDetail(c, "userNameChange", policy)
	} else {
		auditDetail(c, "userNameChange", policy, "refusedDeactivation", g.deactivation)
	}
	if g.ignore && u != nil && s.opts.Recorder != nil {
		s.opts.Recorder.Eventf(u, corev1.EventTypeWarning, "UserNameChangeIgnored",
			"The identity provider asked to change userName %q to %q; kept %q (Organization %s has spec.userNameChanges: Ignore) and applied the rest",
			g.kept, g.asked, g.kept, org.Name)
	}
}

// replaceUser serves PUT /Users/{id}: the body replaces every writable attribute. userName
// cannot change (usernames are immutable): a different one is 400 mutability.
func (s *Server) replaceUser(c *gin.Context) {
	spec, doc, err := s.readUserSpec(c, document.UserSpec)
	if err != nil {
		writeError(c, err)
		return
	}
	guard := &userNameGuard{ignore: orgOf(c).IgnoresUserNameChanges()}
	rt := userType(c)
	s.updateUser(c, "replace", guard, func(u *rosterv1.OrgUser) error {
		next := spec
		if err := orgschema.Update(rt, s.userDoc(c, u), doc, u.Spec.Extensions, &next.Extensions); err != nil {
			return err
		}
		if err := guard.keep(u, &next); err != nil {
			return err
		}
		u.Spec = next
		return nil
	})
}

// patchUser serves PATCH /Users/{id}.
func (s *Server) patchUser(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ops, err := patch.Parse(body)
	if err != nil {
		writeError(c, err)
		return
	}
	guard := &userNameGuard{ignore: orgOf(c).IgnoresUserNameChanges()}
	rt := userType(c)
	s.noteUnknown(c, orgschema.UnknownPatchURNs(rt, ops))
	s.updateUser(c, "patch", guard, func(u *rosterv1.OrgUser) error {
		before := s.userDoc(c, u)
		doc, err := patch.Apply(rt, before, ops)
		if err != nil {
			return err
		}
		spec, err := document.UserSpec(doc)
		if err != nil {
			return err
		}
		if err := orgschema.Update(rt, before, doc, u.Spec.Extensions, &spec.Extensions); err != nil {
			return err
		}
		if err := guard.keep(u, &spec); err != nil {
			return err
		}
		u.Spec = spec
		return nil
	})
}

// updateUser hands a user change to the directory and answers with the user.
func (s *Server) updateUser(c *gin.Context, op string, guard *userNameGuard, mutate func(*rosterv1.OrgUser) error) {
	id := c.Param("id")
	u, err := s.dir.UpdateUser(c.Request.Context(), orgOf(c).Spec.Namespace, id, ifMatch(c), mutate)
	s.audit(c, op, "User", id)
	s.reportUserNameChange(c, guard, u, err)
	if err != nil {
		writeError(c, userErr(err, id))
		return
	}
	s.writeUser(c, http.StatusOK, u)
}

// deleteUser serves DELETE /Users/{id} (204). Okta never deletes (it deactivates); Entra and
// others do.
func (s *Server) deleteUser(c *gin.Context) {
	id := c.Param("id")
	err := s.dir.DeleteUser(c.Request.Context(), orgOf(c).Spec.Namespace, id, ifMatch(c))
	s.audit(c, "delete", "User", id)
	if err != nil {
		writeError(c, userErr(err, id))
		return
	}
	c.Status(http.StatusNoContent)
}

// userDoc is the SCIM representation of an OrgUser, without groups.
func (s *Server) userDoc(c *gin.Context, u *rosterv1.OrgUser) map[string]any {
	return document.User(u, s.userMeta(c, u))
}

// userMeta is the meta attribute of a user.
func (s *Server) userMeta(c *gin.Context, u *rosterv1.OrgUser) document.Meta {
	return userMetaIn(s.resourceURL(c, "Users", ""), u)
}

// userMetaIn is the meta attribute of a user whose location is usersURL followed by its id (a
// list computes the URL of its /Users once).
func userMetaIn(usersURL string, u *rosterv1.OrgUser) document.Meta {
	return document.Meta{
		ResourceType: "User", Location: usersURL + u.Name, Version: directory.UserVersion(u),
		Created: u.CreationTimestamp.Time, LastModified: directory.LastModified(u),
	}
}

// renderUser adds the user's groups when the response includes them, then projects.
func (s *Server) renderUser(c *gin.Context, u *rosterv1.OrgUser, doc map[string]any) map[string]any {
	return renderUserDoc(projectionOf(c, userType(c)), doc, func() []any { return s.groupsOf(c, u) })
}

// renderUserDoc adds a user's groups (read only if proj returns them) to its document, then
// projects it with proj.
func renderUserDoc(proj schema.Projection, doc map[string]any, groups func() []any) map[string]any {
	if _, done := doc["groups"]; !done && proj.Keeps("groups") {
		addGroups(doc, groups())
	}
	return proj.Apply(doc)
}

// addGroups sets the read-only "groups" attribute (the SCIM-managed teams the user is in,
// found through the slice member index) when the user is in any.
func addGroups(doc map[string]any, groups []any) {
	if len(groups) > 0 {
		doc["groups"] = groups
	}
}

// groupsOf is the value of a user's "groups" attribute (nil when it is in no SCIM team).
func (s *Server) groupsOf(c *gin.Context, u *rosterv1.OrgUser) []any {
	teams, err := s.dir.SCIMTeamRefsWithMember(c.Request.Context(), u.Namespace, u.Name)
	if err != nil || len(teams) == 0 {
		return nil
	}
	groups := make([]any, len(teams))
	for i, t := range teams {
		groups[i] = map[string]any{
			"value": t.Name, "$ref": s.resourceURL(c, "Groups", t.Name), "display": t.DisplayName, "type": "direct",
		}
	}
	return groups
}

// mentionsGroups reports whether a filter refers to the groups attribute.
func mentionsGroups(e filter.Expr) bool { return e != nil && filter.Refers(e, "groups") }
