package admission

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// SelfIdentity asks the apiserver who cfg authenticates as (a SelfSubjectReview,
// authentication.k8s.io/v1; every authenticated user may create one through the
// system:basic-user role). For the manager's rest config that is the identity the SCIM server
// and the controllers write with — in a cluster its ServiceAccount,
// system:serviceaccount:<namespace>:<name>.
func SelfIdentity(ctx context.Context, cfg *rest.Config) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the apiserver who Roster is (SelfSubjectReview): %w; pass --scim-identity to name the user instead", err)
	}
	if review.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("the SelfSubjectReview named no user; pass --scim-identity to name Roster's user")
	}
	return review.Status.UserInfo.Username, nil
}
