package policy

// Scopes, broadest first. Workspaces are not modelled.
const (
	ScopeGlobal    = "global"
	ScopeProduct   = "product"
	ScopeAPI       = "api"
	ScopeOperation = "operation"
)

// The four sections of a policy document, in the order a request meets them.
const (
	SectionInbound  = "inbound"
	SectionBackend  = "backend"
	SectionOutbound = "outbound"
	SectionOnError  = "on-error"
)

const numSections = 4

// sectionIndex is the section's place in a document, or -1 for any other name.
func sectionIndex(name string) int {
	switch name {
	case SectionInbound:
		return 0
	case SectionBackend:
		return 1
	case SectionOutbound:
		return 2
	case SectionOnError:
		return 3
	}
	return -1
}

func sectionName(i int) string {
	return [numSections]string{SectionInbound, SectionBackend, SectionOutbound, SectionOnError}[i]
}

// sectionSet is a set of sections, one bit per sectionIndex.
type sectionSet uint8

const (
	inInbound sectionSet = 1 << iota
	inBackend
	inOutbound
	inOnError
	inAll = inInbound | inBackend | inOutbound | inOnError
)

func (s sectionSet) has(section int) bool { return s&(1<<section) != 0 }

func (s sectionSet) String() string {
	var names []byte
	for i := range numSections {
		if s.has(i) {
			if len(names) > 0 {
				names = append(names, ", "...)
			}
			names = append(names, sectionName(i)...)
		}
	}
	return string(names)
}

// allowedSections is where APIM lets each policy appear, as its policy reference states
// (reference/apim-policies.md §4.1). Policies not listed are not restricted by section:
// real documents place some of them outside what the reference pages say, and APIM runs them.
func allowedSections(policy string) (sectionSet, bool) {
	switch policy {
	case "validate-jwt", "validate-azure-ad-token", "validate-client-certificate",
		"check-header", "ip-filter", "cors", "rewrite-uri",
		"rate-limit", "rate-limit-by-key", "quota", "quota-by-key":
		return inInbound, true
	case "set-query-parameter", "set-backend-service":
		return inInbound | inBackend, true
	case "forward-request":
		return inBackend, true
	case "mock-response":
		return inInbound | inOutbound | inOnError, true
	case "set-header", "set-variable", "set-status", "choose", "return-response", "include-fragment":
		return inAll, true
	}
	return 0, false
}

// containsPolicies reports the elements whose children are policy statements run in the
// same section: choose's when/otherwise, retry, limit-concurrency. Other elements' children
// (return-response's set-header, send-request's set-body, …) are their parent's settings.
func containsPolicies(parent, child string) bool {
	switch parent {
	case "choose":
		return child == "when" || child == "otherwise"
	case "when", "otherwise", "retry", "limit-concurrency":
		return true
	}
	return false
}
