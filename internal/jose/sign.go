package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"unsafe"
)

// reservedSignHeaders are the names extra may not set: Sign owns alg and kid, and never
// produces the extensions it refuses to verify.
var reservedSignHeaders = map[string]bool{"alg": true, "kid": true, "crit": true, "b64": true}

// Sign makes a compact JWS of payload with alg ("RS256", ...) and signer, putting kid and the
// extra header fields (e.g. "x5t", "typ") in the protected header. The header JSON is
// deterministic: alg, kid, then extra in name order.
func Sign(alg string, signer crypto.Signer, kid string, extra map[string]any, payload []byte) (string, error) {
	a, ok := lookupAlgorithm(alg)
	if !ok {
		return "", fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
	}
	if a.family == familyHMAC {
		return "", fmt.Errorf("%w: %s is an HMAC algorithm; use SignHMAC", ErrAlgorithmNotAllowed, alg)
	}
	if signer == nil {
		return "", fmt.Errorf("%w: no signer", ErrInvalidKey)
	}
	sigLen, err := checkSigner(a, alg, signer.Public())
	if err != nil {
		return "", err
	}
	out, input, err := signingInput(alg, kid, extra, payload, sigLen)
	if err != nil {
		return "", err
	}
	var sig []byte
	var buf [64]byte
	inputStr := unsafe.String(unsafe.SliceData(input), len(input))
	switch a.family {
	case familyRSA:
		sig, err = signer.Sign(rand.Reader, digest(a.hash, inputStr, &buf), a.hash)
	case familyPSS:
		sig, err = signer.Sign(rand.Reader, digest(a.hash, inputStr, &buf), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash})
	case familyECDSA:
		var der []byte
		der, err = signer.Sign(rand.Reader, digest(a.hash, inputStr, &buf), a.hash)
		if err == nil {
			sig, err = rawECDSASignature(der, a.size)
		}
	case familyEdDSA:
		sig, err = signer.Sign(rand.Reader, input, crypto.Hash(0))
	}
	if err != nil {
		return "", fmt.Errorf("jose: signing with %s: %w", alg, err)
	}
	return finishCompact(out, sig), nil
}

// SignHMAC makes a compact JWS of payload with an HMAC algorithm (HS256, HS384, HS512).
func SignHMAC(alg string, secret []byte, kid string, extra map[string]any, payload []byte) (string, error) {
	a, ok := lookupAlgorithm(alg)
	if !ok {
		return "", fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
	}
	if a.family != familyHMAC {
		return "", fmt.Errorf("%w: %s is not an HMAC algorithm; use Sign", ErrAlgorithmNotAllowed, alg)
	}
	if err := checkHMACKey(a, &Key{Secret: secret}); err != nil {
		return "", err
	}
	out, input, err := signingInput(alg, kid, extra, payload, a.hash.Size())
	if err != nil {
		return "", err
	}
	mac := hmac.New(a.hash.New, secret)
	mac.Write(input)
	var buf [64]byte
	return finishCompact(out, mac.Sum(buf[:0])), nil
}

// checkSigner checks the signer's public key fits alg and returns the signature length.
func checkSigner(a algorithm, alg string, pub crypto.PublicKey) (int, error) {
	switch a.family {
	case familyRSA, familyPSS:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return 0, fmt.Errorf("%w: %s needs an RSA key, the signer has %T", ErrAlgorithmNotAllowed, alg, pub)
		}
		if bits := k.N.BitLen(); bits < MinRSABits {
			return 0, fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrKeyTooSmall, bits, MinRSABits)
		}
		return k.Size(), nil
	case familyECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return 0, fmt.Errorf("%w: %s needs an EC key, the signer has %T", ErrAlgorithmNotAllowed, alg, pub)
		}
		if k.Curve != a.curve {
			return 0, fmt.Errorf("%w: %s needs curve %s, the key is on %s", ErrAlgorithmNotAllowed, alg, a.curve.Params().Name, k.Curve.Params().Name)
		}
		return 2 * a.size, nil
	case familyEdDSA:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			return 0, fmt.Errorf("%w: %s needs an Ed25519 key, the signer has %T", ErrAlgorithmNotAllowed, alg, pub)
		}
		return ed25519.SignatureSize, nil
	}
	return 0, fmt.Errorf("%w: alg %q", ErrUnsupportedAlgorithm, alg)
}

// signingInput builds base64url(header) "." base64url(payload) in a buffer with room for the
// signature, and returns the buffer and the signing input within it.
func signingInput(alg, kid string, extra map[string]any, payload []byte, sigLen int) (out, input []byte, err error) {
	header, err := headerJSON(alg, kid, extra)
	if err != nil {
		return nil, nil, err
	}
	hl, pl := b64url.EncodedLen(len(header)), b64url.EncodedLen(len(payload))
	out = make([]byte, hl+1+pl, hl+1+pl+1+b64url.EncodedLen(sigLen))
	b64url.Encode(out, header)
	out[hl] = '.'
	b64url.Encode(out[hl+1:], payload)
	return out, out, nil
}

func finishCompact(out, sig []byte) string {
	n := len(out)
	out = append(out, '.')
	out = out[:n+1+b64url.EncodedLen(len(sig))]
	b64url.Encode(out[n+1:], sig)
	return unsafe.String(unsafe.SliceData(out), len(out))
}

// headerJSON writes {"alg":..,"kid":..,<extra sorted by name>}.
func headerJSON(alg, kid string, extra map[string]any) ([]byte, error) {
	b := make([]byte, 0, 64+32*len(extra))
	b = append(b, `{"alg":`...)
	b = appendJSONString(b, alg)
	if kid != "" {
		b = append(b, `,"kid":`...)
		b = appendJSONString(b, kid)
	}
	if len(extra) > 0 {
		names := make([]string, 0, len(extra))
		for name := range extra {
			if reservedSignHeaders[name] {
				return nil, fmt.Errorf("jose: header parameter %q cannot be set through extra", name)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			v, err := json.Marshal(extra[name])
			if err != nil {
				return nil, fmt.Errorf("jose: header parameter %q: %w", name, err)
			}
			b = append(b, ',')
			b = appendJSONString(b, name)
			b = append(b, ':')
			b = append(b, v...)
		}
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string; plain ASCII (every alg, kid and thumbprint) is
// copied as is, anything else goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// rawECDSASignature turns an ASN.1 ECDSA signature into JOSE's fixed-size r||s.
func rawECDSASignature(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil {
		return nil, fmt.Errorf("signer returned a malformed ECDSA signature")
	}
	if v.R.Sign() <= 0 || v.S.Sign() <= 0 || len(v.R.Bytes()) > size || len(v.S.Bytes()) > size {
		return nil, fmt.Errorf("signer returned an out-of-range ECDSA signature")
	}
	sig := make([]byte, 2*size)
	v.R.FillBytes(sig[:size])
	v.S.FillBytes(sig[size:])
	return sig, nil
}
