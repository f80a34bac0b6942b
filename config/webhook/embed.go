// Package webhook embeds the ValidatingWebhookConfiguration so that `roster dev` and the
// tests install exactly what a cluster gets, wherever the binary runs.
package webhook

import (
	_ "embed"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"sigs.k8s.io/yaml"
)

//go:embed manifests.yaml
var manifests []byte

// ValidatingWebhookConfiguration returns Roster's webhook configuration as written in
// manifests.yaml (service references, no CA bundle: the install patches those).
func ValidatingWebhookConfiguration() (*admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(manifests, &vwc); err != nil {
		return nil, fmt.Errorf("config/webhook/manifests.yaml: %w", err)
	}
	return &vwc, nil
}
