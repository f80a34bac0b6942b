// Package metrics defines Roster's Prometheus metrics. They are registered with
// controller-runtime's registry, so the manager's metrics endpoint serves them next to the
// controller and client metrics.
package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// SCIMRequests counts SCIM requests by organization, resource, method and status code.
	// org is "" for requests that were not authenticated, so unknown org names cannot grow
	// the label set.
	SCIMRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_requests_total",
		Help: "SCIM requests by organization, resource type, HTTP method and status code.",
	}, []string{"org", "resource", "method", "code"})

	// SCIMRequestDuration observes request latency by resource and method.
	SCIMRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scim_request_duration_seconds",
		Help:    "SCIM request latency by resource type and HTTP method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"resource", "method"})

	// SCIMRateLimited counts requests refused with 429 per organization.
	SCIMRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scim_rate_limited_total",
		Help: "SCIM requests answered 429 because the organization exceeded its rate limit.",
	}, []string{"org"})

	// UserNameChangesRefused counts SCIM requests that asked to change a user's userName, by
	// organization and by what the organization's spec.userNameChanges did with them: reject
	// (the request was refused, with whatever else it changed) or ignore (the rest applied).
	UserNameChangesRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_scim_username_changes_refused_total",
		Help: "SCIM requests that asked to change an immutable userName, by organization and policy (reject or ignore).",
	}, []string{"org", "policy"})

	// UnknownSchemaAttributes counts request values sent under a schema URN the organization
	// does not declare (ignored, as SCIM servers must), by organization and URN; past 16
	// distinct URNs per organization the urn label is "other".
	UnknownSchemaAttributes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_scim_unknown_schema_attributes_total",
		Help: "SCIM requests that sent values under a schema URN the organization does not declare (ignored), by organization and URN (\"other\" past 16 per organization).",
	}, []string{"org", "urn"})

	// StoreSyncErrors counts failed writes to the downstream identity store, by kind.
	StoreSyncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_store_sync_errors_total",
		Help: "Failed reconciles into the downstream identity store, by resource kind and reason.",
	}, []string{"kind", "reason"})
)

// registered lists every collector this package registers at init (the scrape-time collectors,
// which need a reader, are registered by RegisterCollectors).
var registered = []prometheus.Collector{
	SCIMRequests, SCIMRequestDuration, SCIMRateLimited, UserNameChangesRefused, UnknownSchemaAttributes, StoreSyncErrors,
	CacheWait, CacheWaitTimeouts,
	MembershipQueueDepth, MembershipConflictRetries, MembershipSliceWrites, MembershipCommitDuration,
	StoreOperationDuration, StoreOperationErrors,
	Leader, TokenMaxAge,
}

func init() {
	crmetrics.Registry.MustRegister(registered...)
}

// Collectors returns every collector Roster exports, including the scrape-time ones (without
// a reader: only Describe works on those). Tests use it to list Roster's metric names, so a
// dashboard or an alert that names a metric that is gone fails.
func Collectors() []prometheus.Collector {
	return append(slices.Clone(registered), &TokenAgeCollector{}, &UnresolvedCollector{})
}
