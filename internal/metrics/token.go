package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	rosterv1 "github.com/rosterhq/roster/api/v1alpha1"
	"github.com/rosterhq/roster/internal/token"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var tokenAgeDesc = prometheus.NewDesc("roster_token_age_seconds",
	"Age of each organization's SCIM token (since its last rotation).", []string{"org"}, nil)

// TokenAgeCollector reports token age per organization at scrape time, from the cache: no
// state to keep in step, and nothing about the token but its rotation time is read.
type TokenAgeCollector struct {
	Reader client.Reader
	// Namespace is Roster's namespace, where the token Secrets are.
	Namespace string
	Now       func() time.Time
}

// Describe implements prometheus.Collector.
func (c *TokenAgeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- tokenAgeDesc }

// Collect implements prometheus.Collector.
func (c *TokenAgeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var orgs rosterv1.OrganizationList
	if err := c.Reader.List(ctx, &orgs); err != nil {
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	for i := range orgs.Items {
		org := &orgs.Items[i]
		var secret corev1.Secret
		if err := c.Reader.Get(ctx, token.SecretKey(c.Namespace, org.Name), &secret); err != nil {
			continue
		}
		if at, ok := token.RotatedAt(&secret); ok {
			ch <- prometheus.MustNewConstMetric(tokenAgeDesc, prometheus.GaugeValue, now().Sub(at).Seconds(), org.Name)
		}
	}
}

// TokenMaxAge is the --token-max-age the manager runs with, in seconds (0: no maximum), so
// an alert compares roster_token_age_seconds with the limit the Organizations are held to.
var TokenMaxAge = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "roster_token_max_age_seconds",
	Help: "The token age past which an Organization reports TokenFresh=False (--token-max-age); 0 disables.",
})

// RegisterCollectors registers the scrape-time collectors (token age, unresolved members)
// once per process (tests run several managers) and sets TokenMaxAge.
func RegisterCollectors(r client.Reader, namespace string, tokenMaxAge time.Duration) {
	_ = crmetrics.Registry.Register(&TokenAgeCollector{Reader: r, Namespace: namespace})
	_ = crmetrics.Registry.Register(&UnresolvedCollector{Reader: r})
	TokenMaxAge.Set(tokenMaxAge.Seconds())
}
