package policies

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/pkcs12"

	"portcullis/internal/policy"
)

// authCertificate is one compiled <authentication-certificate>: the backend call presents a
// client certificate, named by certificate-id or thumbprint (gateway.certificates), or given
// per request as PKCS#12 bytes (body, password).
type authCertificate struct {
	cert           *policy.Certificate // fixed: certificate-id or thumbprint
	body, password *policy.Value
}

func compileAuthenticationCertificate(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if err := onlyIn(el, c, policy.SectionInbound); err != nil {
		return nil, err
	}
	p, err := readAuthCertificate(el, c)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func readAuthCertificate(el *policy.Element, c *policy.Compiler) (*authCertificate, error) {
	r, err := readElement(el, c, "thumbprint", "certificate-id", "body", "password")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &authCertificate{}
	id, hasID, err := r.constant("certificate-id", false)
	if err != nil {
		return nil, err
	}
	thumb, hasThumb, err := r.constant("thumbprint", false)
	if err != nil {
		return nil, err
	}
	if p.body, err = r.value("body", false); err != nil {
		return nil, err
	}
	if p.body != nil && !p.body.IsExpr() {
		return nil, policy.Errorf(p.body.Pos, "<authentication-certificate> body must be a policy expression giving the PKCS#12 bytes (byte[])")
	}
	if p.password, err = r.value("password", false); err != nil {
		return nil, err
	}
	kinds := 0
	for _, b := range []bool{hasID, hasThumb, p.body != nil} {
		if b {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, policy.Errorf(el.Pos, "<authentication-certificate> needs exactly one of certificate-id, thumbprint and body")
	}
	if p.password != nil && p.body == nil {
		a, _ := el.Attr("password")
		return nil, policy.Errorf(a.Pos, "<authentication-certificate> password goes with body")
	}
	switch {
	case hasID:
		a, _ := el.Attr("certificate-id")
		cert, ok := c.Certificates[strings.TrimSpace(id)]
		if !ok || len(cert.Chain) == 0 {
			return nil, policy.Errorf(a.Pos, "certificate-id %q names no certificate under gateway.certificates", id)
		}
		if cert.Key == nil {
			return nil, policy.Errorf(a.Pos, "certificate %q has no private key, which a client certificate needs", id)
		}
		p.cert = cert
	case hasThumb:
		a, _ := el.Attr("thumbprint")
		want := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(thumb), ":", ""))
		for _, cert := range c.Certificates {
			if len(cert.Chain) == 0 {
				continue
			}
			sum := sha1.Sum(cert.Chain[0].Raw) // APIM names certificates by their SHA-1 thumbprint
			if hex.EncodeToString(sum[:]) == want {
				p.cert = cert
				break
			}
		}
		if p.cert == nil {
			return nil, policy.Errorf(a.Pos, "thumbprint %q matches no certificate under gateway.certificates", thumb)
		}
		if p.cert.Key == nil {
			return nil, policy.Errorf(a.Pos, "certificate %q has no private key, which a client certificate needs", p.cert.ID)
		}
	}
	return p, nil
}

// certificate returns the certificate for this request.
func (p *authCertificate) certificate(ctx *policy.Context) (*policy.Certificate, error) {
	if p.cert != nil {
		return p.cert, nil
	}
	v, err := p.body.Expr.Eval(ctx)
	if err != nil {
		return nil, err
	}
	data, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("authentication-certificate body: expected byte[] (PKCS#12), found %T", v)
	}
	password, err := evalString(ctx, p.password)
	if err != nil {
		return nil, err
	}
	key, cert, err := pkcs12.Decode(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, errors.New("authentication-certificate body: the password does not open the PKCS#12 data")
		}
		return nil, fmt.Errorf("authentication-certificate body: not a PKCS#12 certificate with a key: %w", err)
	}
	return &policy.Certificate{ID: "(body)", Chain: []*x509.Certificate{cert}, Key: key}, nil
}

func (p *authCertificate) Run(ctx *policy.Context) error {
	cert, err := p.certificate(ctx)
	if err != nil {
		return err
	}
	ctx.BackendCertificate = cert
	return nil
}
