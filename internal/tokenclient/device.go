package tokenclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// DeviceCode is the device authorization answer: what the user must do, and what to poll with.
type DeviceCode struct {
	UserCode        string
	DeviceCode      string
	VerificationURI string
	// Message is the server's instruction for the user (Entra writes one); Instructions
	// composes one when it is empty.
	Message   string
	ExpiresAt time.Time
	Interval  time.Duration
}

// Instructions is the sentence to show the user.
func (d *DeviceCode) Instructions() string {
	// Shown on a terminal: a server's control characters (escape sequences) are not passed on.
	if d.Message != "" {
		return printable(d.Message)
	}
	return printable(fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", d.VerificationURI, d.UserCode))
}

type deviceBody struct {
	UserCode        string  `json:"user_code"`
	DeviceCode      string  `json:"device_code"`
	VerificationURI string  `json:"verification_uri"`
	VerificationURL string  `json:"verification_url"` // v1 spelling
	Message         string  `json:"message"`
	ExpiresIn       flexInt `json:"expires_in"`
	Interval        flexInt `json:"interval"`
}

// Defaults from RFC 8628 and Entra when the server leaves them out.
const (
	defaultPollInterval = 5 * time.Second
	defaultDeviceExpiry = 15 * time.Minute
	slowDownStep        = 5 * time.Second
)

// StartDeviceCode asks the device code endpoint for a user code.
func (c *Client) StartDeviceCode(ctx context.Context, t Target) (*DeviceCode, error) {
	form := url.Values{}
	if err := c.targetParams(form, t, true); err != nil {
		return nil, err
	}
	body, err := c.post(ctx, "device code", c.Endpoints.DeviceCode, form)
	if err != nil {
		return nil, err
	}
	var db deviceBody
	if err := json.Unmarshal(body, &db); err != nil {
		return nil, fmt.Errorf("%w: the device code response is not Entra's JSON: %w", ErrBadResponse, err)
	}
	if db.VerificationURI == "" {
		db.VerificationURI = db.VerificationURL
	}
	if db.DeviceCode == "" || db.UserCode == "" || db.VerificationURI == "" {
		return nil, fmt.Errorf("%w: the device code response lacks device_code, user_code or verification_uri", ErrBadResponse)
	}
	d := &DeviceCode{
		UserCode: db.UserCode, DeviceCode: db.DeviceCode, VerificationURI: db.VerificationURI, Message: db.Message,
		ExpiresAt: c.now().Add(defaultDeviceExpiry), Interval: defaultPollInterval,
	}
	if db.ExpiresIn > 0 {
		d.ExpiresAt = c.now().Add(time.Duration(db.ExpiresIn) * time.Second)
	}
	if db.Interval > 0 {
		d.Interval = time.Duration(db.Interval) * time.Second
	}
	return d, nil
}

// PollDeviceCode polls the token endpoint until the user finishes signing in, honouring the
// interval, authorization_pending and slow_down (RFC 8628 §3.5). It stops with
// ErrDeviceCodeExpired when the code expires, with an *Error matching ErrDeclined when the
// user refuses, and with ctx.
func (c *Client) PollDeviceCode(ctx context.Context, d *DeviceCode) (*Token, error) {
	interval := d.Interval
	for {
		if !c.now().Before(d.ExpiresAt) {
			return nil, fmt.Errorf("%w (at %s); run the command again and finish signing in within the time shown", ErrDeviceCodeExpired, d.ExpiresAt.UTC().Format(time.RFC3339))
		}
		if err := c.sleep(ctx, interval); err != nil {
			return nil, err
		}
		form := url.Values{
			"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {d.DeviceCode},
		}
		tok, err := c.redeem(ctx, form)
		var oe *Error
		if !errors.As(err, &oe) {
			return tok, err
		}
		switch oe.Code {
		case "authorization_pending":
		case "slow_down":
			interval += slowDownStep
		default:
			return nil, err
		}
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
