package controlplane

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	configwebhook "github.com/rosterhq/roster/config/webhook"
)

// InstallWebhook makes env install Roster's ValidatingWebhookConfiguration
// (config/webhook/manifests.yaml, failurePolicy Fail and all) when it starts, pointed at
// https://127.0.0.1:<a free port> with a certificate envtest generates. Call it before
// env.Start, and serve the webhook (app.WebhookConfig) where WebhookServing says: until
// something serves it, the apiserver refuses every write of the kinds it guards.
func InstallWebhook(env *envtest.Environment) error {
	vwc, err := configwebhook.ValidatingWebhookConfiguration()
	if err != nil {
		return err
	}
	env.WebhookInstallOptions.ValidatingWebhooks = append(env.WebhookInstallOptions.ValidatingWebhooks, vwc)
	env.WebhookInstallOptions.LocalServingHost = "127.0.0.1"
	return nil
}

// WebhookServing returns where a started env with InstallWebhook expects the webhook server:
// host, port and the directory holding tls.crt and tls.key.
func WebhookServing(env *envtest.Environment) (host string, port int, certDir string, err error) {
	o := env.WebhookInstallOptions
	if len(o.ValidatingWebhooks) == 0 || o.LocalServingPort == 0 || o.LocalServingCertDir == "" {
		return "", 0, "", fmt.Errorf("the control plane was not started with the webhook installed")
	}
	return o.LocalServingHost, o.LocalServingPort, o.LocalServingCertDir, nil
}
