// Package filter implements the SCIM filter language of RFC 7644 §3.4.2.2: parsing a filter
// into a typed AST (Parse), printing it in canonical form (Expr.String), evaluating it against
// canonical documents (Match) and extracting the equality conditions a server can answer from
// an index (EqualityTerms).
//
// Beyond the RFC grammar it accepts what identity providers send: operators, keywords and
// attribute names in any case, and Entra's value path followed by a sub-attribute comparison,
// emails[type eq "work"].value eq "a@b.c", which it reads as emails[type eq "work" and value eq
// "a@b.c"].
package filter
