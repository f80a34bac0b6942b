// Package patch implements SCIM PATCH (RFC 7644 §3.5.2): parsing a PatchOp request body
// (Parse) and its target paths (ParsePath), applying the operations to a canonical document
// (Apply), and pulling Group membership changes out for the server's dedicated member store
// (SplitMembers).
//
// It accepts what Okta and Microsoft Entra ID really send: capitalised op names, path-less
// replace with dotted and URN-qualified keys, booleans as strings, adds through a value path
// that matches nothing, the enterprise manager as a bare id, Okta's group rename that carries
// the group's own id, and Entra's member removal by value list.
package patch
