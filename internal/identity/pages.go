package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"
)

// page is what every HTML page of the service shows. The pages are plain forms that work
// without JavaScript, so scripts, accessibility tools and curl can drive them.
type page struct {
	Title   string
	Heading string
	Message string
	Error   string
	Action  string            // form action; no form when empty
	Hidden  map[string]string // hidden fields (the request being completed, the CSRF token)
	Fields  []field           // visible inputs
	Submit  string
	Buttons []button // several submit buttons instead of Submit
}

type button struct {
	Name, Value, Label string
}

type field struct {
	Name, Label, Type, Value, Autocomplete string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} - Portcullis</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}label{display:block;margin-top:1rem}input[type=text],input[type=password],input[type=email]{width:100%;padding:.4rem;box-sizing:border-box}button{margin-top:1.5rem;padding:.5rem 1.5rem}.error{color:#a4262c;border-left:3px solid #a4262c;padding-left:.5rem}</style>
</head>
<body>
<main>
<h1>{{.Heading}}</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Action}}<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}{{range .Fields}}<label for="{{.Name}}">{{.Label}}</label>
<input id="{{.Name}}" name="{{.Name}}" type="{{.Type}}" value="{{.Value}}"{{if .Autocomplete}} autocomplete="{{.Autocomplete}}"{{end}} required>
{{end}}{{if .Buttons}}{{range .Buttons}}<button type="submit" name="{{.Name}}" value="{{.Value}}">{{.Label}}</button>
{{end}}{{else}}<button type="submit">{{.Submit}}</button>{{end}}
</form>{{end}}
</main>
</body>
</html>
`))

// pageCSP keeps pages out of frames (clickjacking) and allows no scripts.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) renderPage(w http.ResponseWriter, status int, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, p); err != nil {
		s.log.Error("identity: render page", "err", err)
	}
}

// CSRF protection: a random token in a cookie and the same token in the form
// (double submit). A cross-site form cannot read the cookie, so it cannot send the field.
const csrfCookie = "portcullis_csrf"

// csrfToken returns the request's CSRF token, setting a new cookie when there is none.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	return tok
}

// csrfValid checks the form's token against the cookie in constant time.
func csrfValid(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	form := r.PostFormValue("csrf_token")
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) == 1
}
