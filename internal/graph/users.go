package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"portcullis/internal/directory"
)

func (h *Handler) routeUsers(q *request, m string, rest []string) error {
	switch len(rest) {
	case 0:
		switch m {
		case http.MethodGet:
			return h.listUsers(q)
		case http.MethodPost:
			return h.createUser(q)
		}
		return methodNotAllowed(m)
	case 1:
		switch m {
		case http.MethodGet:
			u, err := h.user(q, h.store, rest[0])
			if err != nil {
				return err
			}
			return q.entity(http.StatusOK, "users/$entity", userOut(u))
		case http.MethodPatch:
			return h.patchUser(q, rest[0])
		case http.MethodDelete:
			err := q.update(func(tx directory.Writer) error {
				u, err := h.user(q, tx, rest[0])
				if err != nil {
					return err
				}
				return directory.DeleteUser(q.ctx, tx, q.tenant.ID, u.ID)
			})
			if err != nil {
				return err
			}
			return q.noContent()
		}
		return methodNotAllowed(m)
	case 2:
		if rest[1] == "appRoleAssignments" {
			if m != http.MethodGet {
				return methodNotAllowed(m)
			}
			u, err := h.user(q, h.store, rest[0])
			if err != nil {
				return err
			}
			list, err := h.store.AppRoleAssignments(q.ctx, q.tenant.ID, u.ID, "")
			if err != nil {
				return err
			}
			out := make([]appRoleAssignmentJSON, 0, len(list))
			for i := range list {
				out = append(out, assignmentOut(q.ctx, h.store, &list[i]))
			}
			return q.collection("users('"+u.ID+"')/appRoleAssignments", out)
		}
	}
	return notFound(fmt.Sprintf("Resource not found for the segment '%s'.", clip(rest[len(rest)-1])))
}

// user finds a user by object id or userPrincipalName, as Graph's /users/{id | userPrincipalName}.
func (h *Handler) user(q *request, r directory.Reader, key string) (*directory.User, error) {
	var u *directory.User
	var err error
	if strings.Contains(key, "@") {
		u, err = r.UserByName(q.ctx, q.tenant.ID, key)
	} else {
		u, err = r.User(q.ctx, q.tenant.ID, key)
	}
	if errors.Is(err, directory.ErrNotFound) {
		return nil, objectNotFound(key)
	}
	return u, err
}

var userFilters = filterable[directory.User]{
	"userPrincipalName": {values: func(u *directory.User) []string { return []string{u.UserPrincipalName} }},
	"displayName":       {values: func(u *directory.User) []string { return []string{u.DisplayName} }},
	"mail":              {values: func(u *directory.User) []string { return []string{u.Mail} }},
	"id":                {values: func(u *directory.User) []string { return []string{u.ID} }},
}

func (h *Handler) listUsers(q *request) error {
	users, err := h.store.Users(q.ctx, q.tenant.ID)
	if err != nil {
		return err
	}
	users, err = listQuery(q, users, userFilters)
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for i := range users {
		out = append(out, userOut(&users[i]))
	}
	return q.collection("users", out)
}

type userInput struct {
	AccountEnabled    *bool            `json:"accountEnabled"`
	DisplayName       *string          `json:"displayName"`
	GivenName         *string          `json:"givenName"`
	Surname           *string          `json:"surname"`
	Mail              *string          `json:"mail"`
	UserPrincipalName *string          `json:"userPrincipalName"`
	MailNickname      *string          `json:"mailNickname"`
	PasswordProfile   *passwordProfile `json:"passwordProfile"`
	PasswordPolicies  json.RawMessage  `json:"passwordPolicies"`
	BusinessPhones    json.RawMessage  `json:"businessPhones"`
	JobTitle          json.RawMessage  `json:"jobTitle"`
	MobilePhone       json.RawMessage  `json:"mobilePhone"`
	OfficeLocation    json.RawMessage  `json:"officeLocation"`
	PreferredLanguage json.RawMessage  `json:"preferredLanguage"`
	ID                *string          `json:"id"`
}

type passwordProfile struct {
	Password                             *string `json:"password"`
	ForceChangePasswordNextSignIn        *bool   `json:"forceChangePasswordNextSignIn"`
	ForceChangePasswordNextSignInWithMfa *bool   `json:"forceChangePasswordNextSignInWithMfa"`
}

// checkPasswordComplexity is Entra's rule: 8 to 256 characters, three of lower case, upper case,
// digits and symbols.
func checkPasswordComplexity(pw string) error {
	const msg = "The specified password does not comply with password complexity requirements: 8 to 256 characters with three of lower case, upper case, digits and symbols."
	if len(pw) < 8 || len(pw) > 256 {
		return badRequest(msg)
	}
	var lower, upper, digit, symbol int
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			symbol = 1
		}
	}
	if lower+upper+digit+symbol < 3 {
		return badRequest(msg)
	}
	return nil
}

func (in *userInput) unsupported() error {
	for _, u := range []struct {
		name string
		raw  json.RawMessage
	}{
		{"passwordPolicies", in.PasswordPolicies}, {"businessPhones", in.BusinessPhones}, {"jobTitle", in.JobTitle},
		{"mobilePhone", in.MobilePhone}, {"officeLocation", in.OfficeLocation}, {"preferredLanguage", in.PreferredLanguage},
	} {
		if err := unsupported(u.name, u.raw); err != nil {
			return err
		}
	}
	return nil
}

// apply sets the user's fields; the password is hashed (argon2id) here, outside any
// transaction, because it is slow by design.
func (in *userInput) apply(u *directory.User) error {
	if err := in.unsupported(); err != nil {
		return err
	}
	if in.AccountEnabled != nil {
		u.AccountEnabled = *in.AccountEnabled
	}
	if in.DisplayName != nil {
		if strings.TrimSpace(*in.DisplayName) == "" || len(*in.DisplayName) > 256 {
			return badRequest("Property 'displayName' must be 1 to 256 characters.")
		}
		u.DisplayName = *in.DisplayName
	}
	if in.GivenName != nil {
		u.GivenName = *in.GivenName
	}
	if in.Surname != nil {
		u.Surname = *in.Surname
	}
	if in.Mail != nil {
		u.Mail = *in.Mail
	}
	if in.UserPrincipalName != nil {
		if err := directory.CheckUserPrincipalName(*in.UserPrincipalName); err != nil {
			return err
		}
		u.UserPrincipalName = *in.UserPrincipalName
	}
	if in.PasswordProfile != nil && in.PasswordProfile.Password != nil {
		if err := checkPasswordComplexity(*in.PasswordProfile.Password); err != nil {
			return err
		}
		hash, err := directory.HashPassword(*in.PasswordProfile.Password)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
	}
	return nil
}

func (h *Handler) createUser(q *request) error {
	var in userInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if in.ID != nil {
		return badRequest("Property 'id' is read-only and cannot be set.")
	}
	switch {
	case in.DisplayName == nil:
		return badRequest("Property 'displayName' is required when creating a user.")
	case in.UserPrincipalName == nil:
		return badRequest("Property 'userPrincipalName' is required when creating a user.")
	case in.PasswordProfile == nil || in.PasswordProfile.Password == nil:
		return badRequest("Property 'passwordProfile.password' is required when creating a user.")
	}
	u := &directory.User{ID: directory.NewID(), TenantID: q.tenant.ID, AccountEnabled: true, CreatedAt: q.now()}
	if err := in.apply(u); err != nil {
		return err
	}
	err := q.update(func(tx directory.Writer) error {
		err := tx.PutUser(q.ctx, u)
		if errors.Is(err, directory.ErrConflict) {
			return badRequest("Another object with the same value for property userPrincipalName already exists.")
		}
		return err
	})
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.base+"/users/"+u.ID)
	return q.entity(http.StatusCreated, "users/$entity", userOut(u))
}

func (h *Handler) patchUser(q *request, key string) error {
	var in userInput
	if err := q.decode(&in); err != nil {
		return err
	}
	if in.ID != nil {
		return badRequest("Property 'id' is read-only and cannot be set.")
	}
	// Hash a new password before the write lock.
	var staged directory.User
	if err := in.apply(&staged); err != nil {
		return err
	}
	err := q.update(func(tx directory.Writer) error {
		u, err := h.user(q, tx, key)
		if err != nil {
			return err
		}
		pw := in.PasswordProfile
		in.PasswordProfile = nil
		if err := in.apply(u); err != nil {
			return err
		}
		if pw != nil && pw.Password != nil {
			u.PasswordHash = staged.PasswordHash
		}
		err = tx.PutUser(q.ctx, u)
		if errors.Is(err, directory.ErrConflict) {
			return badRequest("Another object with the same value for property userPrincipalName already exists.")
		}
		return err
	})
	if err != nil {
		return err
	}
	return q.noContent()
}
