// Package accesstest tests the TeamRoleBinding and ClusterTeamRoleBinding controllers end to
// end against a real kube-apiserver with Roster's admission webhook installed: SCIM changes
// in, SubjectAccessReviews out. It has no code of its own; the controllers package's own
// control plane runs without the webhook.
package accesstest
