package policies

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"portcullis/internal/policy"
)

// ip-filter's failure reasons, as APIM's context.LastError.Reason.
const (
	ReasonFailedToParseCallerIP = "FailedToParseCallerIP"
	ReasonCallerIPNotAllowed    = "CallerIpNotAllowed"
	ReasonCallerIPBlocked       = "CallerIpBlocked"
)

// ipFilter is ip-filter: allow only, or forbid, the listed addresses and ranges (403).
type ipFilter struct {
	action    *policy.Value
	addresses []ipEntry
}

// ipEntry is one address or an inclusive range; from/to are set when constant.
type ipEntry struct {
	addr     *policy.Value // an address element
	from, to netip.Addr
}

func compileIPFilter(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "action")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "address", "address-range"); err != nil {
		return nil, err
	}
	f := &ipFilter{}
	if f.action, err = r.value("action", true); err != nil {
		return nil, err
	}
	if !f.action.IsExpr() {
		if _, err := parseIPAction(f.action.Const); err != nil {
			return nil, policy.Errorf(f.action.Pos, "<ip-filter> %v", err)
		}
	}
	for _, ch := range el.Children {
		switch ch.Name {
		case "address":
			v, err := c.TextValue(ch)
			if err != nil {
				return nil, err
			}
			e := ipEntry{addr: &v}
			if !v.IsExpr() {
				a, err := netip.ParseAddr(strings.TrimSpace(v.Const))
				if err != nil {
					return nil, policy.Errorf(v.Pos, "<address> %q is not an IP address", strings.TrimSpace(v.Const))
				}
				e = ipEntry{from: a.Unmap(), to: a.Unmap()}
			}
			f.addresses = append(f.addresses, e)
		case "address-range":
			rr, err := readElement(ch, c, "from", "to")
			if err != nil {
				return nil, err
			}
			var ends [2]netip.Addr
			for i, n := range []string{"from", "to"} {
				s, _, err := rr.constant(n, true)
				if err != nil {
					return nil, err
				}
				if ends[i], err = netip.ParseAddr(strings.TrimSpace(s)); err != nil {
					a, _ := ch.Attr(n)
					return nil, policy.Errorf(a.Pos, "<address-range> %s %q is not an IP address", n, s)
				}
				ends[i] = ends[i].Unmap()
			}
			if ends[0].Is4() != ends[1].Is4() || ends[1].Less(ends[0]) {
				return nil, policy.Errorf(ch.Pos, "<address-range> from %s to %s is not a range", ends[0], ends[1])
			}
			f.addresses = append(f.addresses, ipEntry{from: ends[0], to: ends[1]})
		}
	}
	if len(f.addresses) == 0 {
		return nil, policy.Errorf(el.Pos, "<ip-filter> needs at least one <address> or <address-range>")
	}
	return f, nil
}

func parseIPAction(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "allow":
		return true, nil
	case "forbid":
		return false, nil
	}
	return false, fmt.Errorf("action must be allow or forbid, found %q", s)
}

func (f *ipFilter) Run(ctx *policy.Context) error {
	act, err := f.action.String(ctx)
	if err != nil {
		return err
	}
	allow, err := parseIPAction(act)
	if err != nil {
		return fmt.Errorf("ip-filter: %w", err)
	}
	ip := ctx.Request.IPAddress.Unmap()
	if !ip.IsValid() {
		return &policy.Failure{Source: "ip-filter", Reason: ReasonFailedToParseCallerIP,
			Message: "Failed to establish IP address of the caller. Access denied.", StatusCode: http.StatusForbidden}
	}
	listed, err := f.listed(ctx, ip)
	if err != nil {
		return err
	}
	switch {
	case allow && !listed:
		return &policy.Failure{Source: "ip-filter", Reason: ReasonCallerIPNotAllowed,
			Message: fmt.Sprintf("Caller IP address %s is not allowed. Access denied.", ip), StatusCode: http.StatusForbidden}
	case !allow && listed:
		return &policy.Failure{Source: "ip-filter", Reason: ReasonCallerIPBlocked,
			Message: "Caller IP address is blocked. Access denied.", StatusCode: http.StatusForbidden}
	}
	return nil
}

func (f *ipFilter) listed(ctx *policy.Context, ip netip.Addr) (bool, error) {
	for _, e := range f.addresses {
		from, to := e.from, e.to
		if e.addr != nil {
			s, err := e.addr.String(ctx)
			if err != nil {
				return false, err
			}
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil {
				return false, fmt.Errorf("ip-filter: address %q is not an IP address", s)
			}
			from, to = a.Unmap(), a.Unmap()
		}
		if from.Is4() == ip.Is4() && !ip.Less(from) && !to.Less(ip) {
			return true, nil
		}
	}
	return false, nil
}
