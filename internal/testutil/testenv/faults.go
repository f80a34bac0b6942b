package testenv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
)

// DenySliceWrites installs a ValidatingAdmissionPolicy on the real apiserver that refuses
// every OrgTeamMemberSlice write listing poison — a write that fails in the middle of a
// multi-slice change, as a crash or an outage would make it — and waits until it is in force.
// The returned func lifts it.
func (e *Env) DenySliceWrites(t testing.TB, namespace, poison string) (lift func()) {
	t.Helper()
	ctx := context.Background()
	name := "deny-" + namespace
	fail := admissionregistrationv1.Fail
	// Forbidden, as an RBAC or an outage refusal would be: the SCIM answer is then 503.
	forbidden := metav1.StatusReasonForbidden
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{
							APIGroups: []string{rosterv1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"orgteammemberslices"},
						},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: fmt.Sprintf(`!has(object.spec.members) || !object.spec.members.exists(m, m == %q)`, poison),
				Message:    "test: this slice write fails",
				Reason:     &forbidden,
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": namespace},
			}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatalf("installing the policy: %v", err)
		}
	}
	lift = func() {
		_ = e.Client.Delete(ctx, binding)
		_ = e.Client.Delete(ctx, policy)
	}
	t.Cleanup(lift)
	// The apiserver loads policies through its own informer: probe until a poisoned slice is
	// refused (a probe that got through is deleted again).
	deadline := time.Now().Add(20 * time.Second)
	for {
		probe := &rosterv1.OrgTeamMemberSlice{Spec: rosterv1.OrgTeamMemberSliceSpec{Team: "probe", Members: []string{poison}}}
		probe.GenerateName, probe.Namespace = "probe-", namespace
		err := e.Client.Create(ctx, probe)
		if err != nil && strings.Contains(err.Error(), "this slice write fails") {
			return lift
		}
		if err == nil {
			_ = e.Client.Delete(ctx, probe)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slice-write policy is not in force after 20s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
