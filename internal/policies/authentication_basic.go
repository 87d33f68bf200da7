package policies

import (
	"encoding/base64"
	"strings"

	"portcullis/internal/policy"
)

// authBasic is one compiled <authentication-basic>: the backend request's Authorization
// header becomes Basic with the username and password.
type authBasic struct {
	username, password *policy.Value
}

func compileAuthenticationBasicStep(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	if err := onlyIn(el, c, policy.SectionInbound); err != nil {
		return nil, err
	}
	return compileAuthenticationBasic(el, c)
}

func compileAuthenticationBasic(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "username", "password")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	p := &authBasic{}
	if p.username, err = r.value("username", true); err != nil {
		return nil, err
	}
	if p.password, err = r.value("password", true); err != nil {
		return nil, err
	}
	if !p.username.IsExpr() && strings.Contains(p.username.Const, ":") {
		a, _ := el.Attr("username")
		return nil, policy.Errorf(a.Pos, "<authentication-basic> username must not contain ':' (RFC 7617)")
	}
	return p, nil
}

// header is the Authorization value.
func (p *authBasic) header(ctx *policy.Context) (string, error) {
	user, err := p.username.String(ctx)
	if err != nil {
		return "", err
	}
	pass, err := p.password.String(ctx)
	if err != nil {
		return "", err
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)), nil
}

func (p *authBasic) Run(ctx *policy.Context) error {
	v, err := p.header(ctx)
	if err != nil {
		return err
	}
	ctx.Request.Header.Set("Authorization", v)
	return nil
}
