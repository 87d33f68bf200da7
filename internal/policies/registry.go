package policies

import "portcullis/internal/policy"

// Deps are what policies need from the running gateway.
type Deps struct {
	ValidateJWT ValidateJWTDeps

	AzureAD         AzureADDeps         // validate-azure-ad-token (keys: ValidateJWT.Keys)
	RateLimit       RateLimitDeps       // rate-limit, rate-limit-by-key, quota-by-key, limit-concurrency
	Cache           CacheDeps           // cache-lookup(-value), cache-store(-value), cache-remove-value
	SendRequest     SendRequestDeps     // send-request
	ManagedIdentity ManagedIdentityDeps // authentication-managed-identity
	Metrics         MetricsDeps         // emit-metric
	EventHub        EventHubDeps        // log-to-eventhub

	// Backends are gateway.backends: backend-id → base URL, for set-backend-service.
	Backends map[string]string
	Trace    TraceDeps // trace
	Retry    RetryDeps // retry
}

// Registry returns the policy elements Portcullis runs. An element not listed here is a load
// error naming it, never silently skipped.
func Registry(d Deps) policy.Registry {
	d = d.withInMemoryDefaults()
	return policy.Registry{
		"validate-jwt":    d.ValidateJWT.compile,
		"forward-request": compileForwardRequest,

		"validate-azure-ad-token":         d.compileValidateAzureADToken,
		"rate-limit-by-key":               d.RateLimit.compileRateLimitByKey,
		"rate-limit":                      d.RateLimit.compileRateLimit,
		"quota-by-key":                    d.RateLimit.compileQuotaByKey,
		"limit-concurrency":               d.RateLimit.compileLimitConcurrency,
		"cache-lookup-value":              d.Cache.compileCacheLookupValue,
		"cache-store-value":               d.Cache.compileCacheStoreValue,
		"cache-remove-value":              d.Cache.compileCacheRemoveValue,
		"cache-lookup":                    d.Cache.compileCacheLookup,
		"cache-store":                     d.Cache.compileCacheStore,
		"send-request":                    d.compileSendRequest,
		"authentication-basic":            compileAuthenticationBasicStep,
		"authentication-certificate":      compileAuthenticationCertificate,
		"authentication-managed-identity": d.ManagedIdentity.compileStep,
		"emit-metric":                     d.Metrics.compileEmitMetric,
		"log-to-eventhub":                 d.EventHub.compileLogToEventHub,

		"set-header":          compileSetHeader,
		"set-query-parameter": compileSetQueryParameter,
		"set-method":          compileSetMethod,
		"set-status":          compileSetStatus,
		"set-body":            compileSetBody,
		"find-and-replace":    compileFindAndReplace,
		"rewrite-uri":         compileRewriteURI,
		"set-backend-service": d.compileSetBackendService,
		"return-response":     compileReturnResponse,
		"mock-response":       compileMockResponse,
		"set-variable":        compileSetVariable,
		"choose":              compileChoose,
		"retry":               d.Retry.compileRetry,
		"trace":               d.Trace.compileTrace,
		"check-header":        compileCheckHeader,
		"ip-filter":           compileIPFilter,
		"cors":                compileCORS,
		"json-to-xml":         compileJSONToXML,
		"xml-to-json":         compileXMLToJSON,
	}
}
