package jose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
)

// Limits on a key set document; Entra's hold fewer than ten keys in a few kilobytes.
const (
	MaxJWKSSize = 1 << 20
	MaxJWKSKeys = 256
)

// ParseJWKS parses a JSON Web Key Set. Keys that cannot be used (unknown kty, bad parameters)
// are skipped and reported in skipped; err is for a document that is not a key set at all.
// It is for key sets fetched from an identity provider: symmetric keys (kty oct), keys for
// encryption and keys carrying private material are skipped, and so are all keys sharing a
// kid (which one signed would be ambiguous).
func ParseJWKS(data []byte) (keys []Key, skipped []error, err error) {
	return parseKeySet(data, false)
}

// ParseTrustedJWKS parses a key set the operator configured (a file or a policy), where
// symmetric keys and private keys (for decryption) are legitimate. A set mixing symmetric and
// asymmetric keys is refused: which kind verifies a token must never be the token's choice.
func ParseTrustedJWKS(data []byte) (keys []Key, skipped []error, err error) {
	return parseKeySet(data, true)
}

// ParseJWK parses one JWK, as an operator configures it: kty RSA, EC, OKP (Ed25519) or oct,
// public or private.
func ParseJWK(data []byte) (*Key, error) {
	if len(data) > MaxJWKSSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidKey, len(data), MaxJWKSSize)
	}
	k, err := parseJWK(data, true)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

func parseKeySet(data []byte, trusted bool) ([]Key, []error, error) {
	if len(data) > MaxJWKSSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidKeySet, len(data), MaxJWKSSize)
	}
	m, err := decodeObject(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidKeySet, err)
	}
	rawKeys, ok := m["keys"]
	if !ok {
		return nil, nil, fmt.Errorf("%w: no \"keys\" member", ErrInvalidKeySet)
	}
	var list []json.RawMessage
	if firstNonSpace(rawKeys) != '[' || json.Unmarshal(rawKeys, &list) != nil {
		return nil, nil, fmt.Errorf("%w: \"keys\" is not an array", ErrInvalidKeySet)
	}
	if len(list) > MaxJWKSKeys {
		return nil, nil, fmt.Errorf("%w: %d keys, the limit is %d", ErrInvalidKeySet, len(list), MaxJWKSKeys)
	}
	// A kid shared by several entries is ambiguous even when some of them are unusable: the
	// document is not what its publisher meant, so none of those entries is used.
	kids := make([]string, len(list))
	count := make(map[string]int, len(list))
	for i, raw := range list {
		if kids[i] = kidOf(raw); kids[i] != "" {
			count[kids[i]]++
		}
	}
	var keys []Key
	var skipped []error
	for i, raw := range list {
		if n := count[kids[i]]; n > 1 {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w: %d keys share this kid", i, truncate(kids[i]), ErrInvalidKey, n))
			continue
		}
		k, err := parseJWK(raw, trusted)
		if err != nil {
			label := ""
			if kids[i] != "" {
				label = fmt.Sprintf(" (kid %q)", truncate(kids[i]))
			}
			skipped = append(skipped, fmt.Errorf("key %d%s: %w", i, label, err))
			continue
		}
		keys = append(keys, k)
	}
	kept := keys
	if trusted {
		var secret, public bool
		for _, k := range kept {
			if k.Secret != nil {
				secret = true
			} else {
				public = true
			}
		}
		if secret && public {
			return nil, skipped, fmt.Errorf("%w: the set mixes symmetric (oct) and asymmetric keys", ErrInvalidKeySet)
		}
	}
	return kept, skipped, nil
}

func kidOf(raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	kid, _, _ := stringMember(m, "kid")
	return kid
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// jwkFields reads the members of one JWK.
type jwkFields struct {
	m map[string]json.RawMessage
}

func (f jwkFields) str(name string) (string, error) {
	v, _, err := stringMember(f.m, name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return v, nil
}

func (f jwkFields) has(name string) bool { _, ok := f.m[name]; return ok }

// bytes decodes a base64url member. Padding is tolerated here (some identity providers pad
// key parameters); tokens themselves get no such tolerance.
func (f jwkFields) bytes(name string, required bool) ([]byte, error) {
	s, err := f.str(name)
	if err != nil {
		return nil, err
	}
	if s == "" {
		if required || f.has(name) {
			return nil, fmt.Errorf("%w: %q is missing or empty", ErrInvalidKey, name)
		}
		return nil, nil
	}
	b, err := b64url.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not base64url", ErrInvalidKey, name)
	}
	return b, nil
}

func parseJWK(raw []byte, trusted bool) (Key, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	f := jwkFields{m}
	var k Key
	kty, err := f.str("kty")
	if err != nil {
		return Key{}, err
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"kid", &k.ID}, {"alg", &k.Alg}, {"use", &k.Use}, {"issuer", &k.Issuer}, {"x5t", &k.X5t}} {
		if *p.dst, err = f.str(p.name); err != nil {
			return Key{}, err
		}
	}
	if raw, ok := m["key_ops"]; ok {
		if firstNonSpace(raw) != '[' || json.Unmarshal(raw, &k.KeyOps) != nil {
			return Key{}, fmt.Errorf("%w: key_ops must be an array of strings", ErrInvalidKey)
		}
		if k.KeyOps == nil {
			k.KeyOps = []string{}
		}
	}
	switch k.Use {
	case "", "sig", "enc":
	default:
		return Key{}, fmt.Errorf("%w: use %q is neither sig nor enc", ErrInvalidKey, k.Use)
	}
	if !trusted {
		if kty == "oct" {
			return Key{}, fmt.Errorf("%w: a published key set never supplies a shared secret (kty oct)", ErrAlgorithmNotAllowed)
		}
		if k.Use == "enc" {
			return Key{}, fmt.Errorf("%w: the key is for encryption (use enc)", ErrAlgorithmNotAllowed)
		}
		if k.KeyOps != nil && !contains(k.KeyOps, "verify") {
			return Key{}, fmt.Errorf("%w: the key's key_ops %q do not include verify", ErrAlgorithmNotAllowed, k.KeyOps)
		}
		for _, p := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if f.has(p) {
				return Key{}, fmt.Errorf("%w: a published key carries private or secret material (%q)", ErrInvalidKey, p)
			}
		}
	}
	switch kty {
	case "RSA":
		err = parseRSAJWK(f, &k, trusted)
	case "EC":
		err = parseECJWK(f, &k)
	case "OKP":
		err = parseOKPJWK(f, &k)
	case "oct":
		k.Secret, err = f.bytes("k", true)
		if err == nil {
			err = checkAlgForKey(k.Alg, "oct", nil)
		}
	case "":
		return Key{}, fmt.Errorf("%w: no kty", ErrInvalidKey)
	default:
		return Key{}, fmt.Errorf("%w: kty %q", ErrUnsupportedAlgorithm, kty)
	}
	if err != nil {
		return Key{}, err
	}
	if !trusted && k.Alg != "" {
		if _, ok := lookupAlgorithm(k.Alg); !ok {
			return Key{}, fmt.Errorf("%w: alg %q is not a signature algorithm", ErrAlgorithmNotAllowed, k.Alg)
		}
	}
	return k, nil
}

// checkAlgForKey refuses a JWK whose alg does not fit its key type (RFC 8725 §3.1).
func checkAlgForKey(alg, kty string, curve elliptic.Curve) error {
	if alg == "" {
		return nil
	}
	switch kty {
	case "RSA":
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "RSA-OAEP", "RSA-OAEP-256":
			return nil
		}
	case "EC":
		if a, ok := lookupAlgorithm(alg); ok && a.family == familyECDSA {
			if a.curve != curve {
				return fmt.Errorf("%w: alg %s does not fit curve %s", ErrAlgorithmNotAllowed, alg, curve.Params().Name)
			}
			return nil
		}
	case "OKP":
		if alg == "EdDSA" || alg == "Ed25519" {
			return nil
		}
	case "oct":
		switch alg {
		case "HS256", "HS384", "HS512", "A128KW", "A256KW", "dir", "A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512":
			return nil
		}
	}
	return fmt.Errorf("%w: alg %q does not fit a kty %s key", ErrAlgorithmNotAllowed, alg, kty)
}

func parseRSAJWK(f jwkFields, k *Key, trusted bool) error {
	nb, err := f.bytes("n", false)
	if err != nil {
		return err
	}
	eb, err := f.bytes("e", false)
	if err != nil {
		return err
	}
	var pub *rsa.PublicKey
	if nb != nil || eb != nil {
		if nb == nil || eb == nil {
			return fmt.Errorf("%w: RSA key needs both n and e", ErrInvalidKey)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(nb)}
		if len(eb) > 4 {
			return fmt.Errorf("%w: RSA exponent too large", ErrInvalidKey)
		}
		pub.E = int(new(big.Int).SetBytes(eb).Int64())
	}
	certPub, err := x5cKey(f, k)
	if err != nil {
		return err
	}
	if certPub != nil {
		cp, ok := certPub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: x5c holds a %T key, the JWK says RSA", ErrInvalidKey, certPub)
		}
		if pub != nil && !pub.Equal(cp) {
			return fmt.Errorf("%w: x5c's certificate key differs from n/e", ErrInvalidKey)
		}
		pub = cp
	}
	if pub == nil {
		return fmt.Errorf("%w: RSA key has neither n/e nor x5c", ErrInvalidKey)
	}
	if err := checkRSAPublicKey(pub); err != nil {
		return err
	}
	if err := checkAlgForKey(k.Alg, "RSA", nil); err != nil {
		return err
	}
	k.Public = pub
	if trusted && f.has("d") {
		priv, err := rsaPrivateJWK(f, pub)
		if err != nil {
			return err
		}
		k.Private = priv
	}
	return nil
}

func rsaPrivateJWK(f jwkFields, pub *rsa.PublicKey) (*rsa.PrivateKey, error) {
	get := func(name string) (*big.Int, error) {
		b, err := f.bytes(name, true)
		if err != nil {
			return nil, err
		}
		return new(big.Int).SetBytes(b), nil
	}
	d, err := get("d")
	if err != nil {
		return nil, err
	}
	priv := &rsa.PrivateKey{PublicKey: *pub, D: d}
	if f.has("p") || f.has("q") {
		p, err := get("p")
		if err != nil {
			return nil, err
		}
		q, err := get("q")
		if err != nil {
			return nil, err
		}
		priv.Primes = []*big.Int{p, q}
	}
	if len(priv.Primes) == 0 {
		return nil, fmt.Errorf("%w: an RSA private key needs p and q", ErrInvalidKey)
	}
	if err := priv.Validate(); err != nil {
		return nil, fmt.Errorf("%w: RSA private key: %v", ErrInvalidKey, err)
	}
	priv.Precompute()
	return priv, nil
}

// checkRSAPublicKey refuses small moduli, unusable exponents and keys with the ROCA weakness.
func checkRSAPublicKey(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits < MinRSABits {
		return fmt.Errorf("%w: RSA key of %d bits, at least %d required", ErrKeyTooSmall, bits, MinRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return fmt.Errorf("%w: RSA exponent %d", ErrInvalidKey, pub.E)
	}
	if pub.N.Bit(0) == 0 {
		return fmt.Errorf("%w: RSA modulus is even", ErrInvalidKey)
	}
	if hasROCAFingerprint(pub.N) {
		return fmt.Errorf("%w: RSA key has the ROCA weakness (CVE-2017-15361); replace it", ErrInvalidKey)
	}
	return nil
}

func parseECJWK(f jwkFields, k *Key) error {
	crv, err := f.str("crv")
	if err != nil {
		return err
	}
	var curve elliptic.Curve
	switch crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return fmt.Errorf("%w: EC curve %q", ErrUnsupportedAlgorithm, crv)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err := f.bytes("x", true)
	if err != nil {
		return err
	}
	y, err := f.bytes("y", true)
	if err != nil {
		return err
	}
	if len(x) != size || len(y) != size {
		return fmt.Errorf("%w: %s coordinates must be %d bytes, found %d and %d", ErrInvalidKey, crv, size, len(x), len(y))
	}
	point := make([]byte, 0, 1+2*size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return fmt.Errorf("%w: %s point is not on the curve", ErrInvalidKey, crv)
	}
	if err := checkAlgForKey(k.Alg, "EC", curve); err != nil {
		return err
	}
	certPub, err := x5cKey(f, k)
	if err != nil {
		return err
	}
	if certPub != nil && !pub.Equal(certPub) {
		return fmt.Errorf("%w: x5c's certificate key differs from x/y", ErrInvalidKey)
	}
	k.Public = pub
	if f.has("d") {
		d, err := f.bytes("d", true)
		if err != nil {
			return err
		}
		if len(d) != size {
			return fmt.Errorf("%w: %s private scalar must be %d bytes", ErrInvalidKey, crv, size)
		}
		priv, err := ecdsa.ParseRawPrivateKey(curve, d)
		if err != nil || !priv.PublicKey.Equal(pub) {
			return fmt.Errorf("%w: %s private key does not match x/y", ErrInvalidKey, crv)
		}
		k.Private = priv
	}
	return nil
}

func parseOKPJWK(f jwkFields, k *Key) error {
	crv, err := f.str("crv")
	if err != nil {
		return err
	}
	if crv != "Ed25519" {
		return fmt.Errorf("%w: OKP curve %q (only Ed25519 signs)", ErrUnsupportedAlgorithm, crv)
	}
	x, err := f.bytes("x", true)
	if err != nil {
		return err
	}
	if len(x) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: Ed25519 key must be %d bytes, found %d", ErrInvalidKey, ed25519.PublicKeySize, len(x))
	}
	if err := checkAlgForKey(k.Alg, "OKP", nil); err != nil {
		return err
	}
	k.Public = ed25519.PublicKey(x)
	if f.has("d") {
		d, err := f.bytes("d", true)
		if err != nil {
			return err
		}
		if len(d) != ed25519.SeedSize {
			return fmt.Errorf("%w: Ed25519 private key must be %d bytes", ErrInvalidKey, ed25519.SeedSize)
		}
		priv := ed25519.NewKeyFromSeed(d)
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), x) {
			return fmt.Errorf("%w: Ed25519 private key does not match x", ErrInvalidKey)
		}
		k.Private = priv
	}
	return nil
}

// x5cKey returns the public key of the first x5c certificate (nil when absent), checking x5t
// against it when both are given.
func x5cKey(f jwkFields, k *Key) (any, error) {
	raw, ok := f.m["x5c"]
	if !ok {
		return nil, nil
	}
	var chain []string
	if firstNonSpace(raw) != '[' || json.Unmarshal(raw, &chain) != nil || len(chain) == 0 {
		return nil, fmt.Errorf("%w: x5c must be a non-empty array of base64 certificates", ErrInvalidKey)
	}
	der, err := base64.StdEncoding.DecodeString(chain[0])
	if err != nil {
		return nil, fmt.Errorf("%w: x5c[0] is not base64", ErrInvalidKey)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: x5c[0]: %v", ErrInvalidKey, err)
	}
	if k.X5t != "" && k.X5t != Thumbprint(der) {
		return nil, fmt.Errorf("%w: x5t does not match x5c[0]", ErrInvalidKey)
	}
	return cert.PublicKey, nil
}

// Thumbprint is the base64url SHA-1 of a certificate's DER: Entra's x5t (and v1 kid).
func Thumbprint(der []byte) string {
	sum := sha1.Sum(der)
	return b64url.EncodeToString(sum[:])
}

// ThumbprintS256 is the base64url SHA-256 of a certificate's DER (x5t#S256).
func ThumbprintS256(der []byte) string {
	sum := sha256.Sum256(der)
	return b64url.EncodeToString(sum[:])
}

// KeyFromCertificate builds a verification key from a DER certificate, with X5t set to the
// certificate's thumbprint.
func KeyFromCertificate(der []byte) (*Key, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrInvalidKey, err)
	}
	k, err := keyFromPublic(cert.PublicKey)
	if err != nil {
		return nil, err
	}
	k.X5t = Thumbprint(der)
	return k, nil
}

// KeyFromDER builds a key from DER: a certificate, a PKIX or PKCS#1 public key, or a PKCS#8,
// PKCS#1 or SEC 1 private key.
func KeyFromDER(der []byte) (*Key, error) {
	if k, err := KeyFromCertificate(der); err == nil {
		return k, nil
	}
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		return keyFromPublic(pub)
	}
	if pub, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return keyFromPublic(pub)
	}
	if priv, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return keyFromPrivate(priv)
	}
	if priv, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return keyFromPrivate(priv)
	}
	if priv, err := x509.ParseECPrivateKey(der); err == nil {
		return keyFromPrivate(priv)
	}
	return nil, fmt.Errorf("%w: DER is neither a certificate nor a public or private key", ErrInvalidKey)
}

// KeyFromPEM builds a key from the first PEM block of data (CERTIFICATE, PUBLIC KEY,
// RSA PUBLIC KEY, PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY).
func KeyFromPEM(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrInvalidKey)
	}
	switch block.Type {
	case "CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return KeyFromDER(block.Bytes)
	}
	return nil, fmt.Errorf("%w: PEM block type %q", ErrInvalidKey, block.Type)
}

// KeyFromRSAComponents builds an RSA verification key from base64url modulus and exponent,
// as validate-jwt's <key n="..." e="..."/> gives them. Standard base64 ('+', '/', padding) is
// accepted too: the operator typed these, and both spellings name the same number.
func KeyFromRSAComponents(n, e string) (*Key, error) {
	toURL := strings.NewReplacer("+", "-", "/", "_")
	n, e = toURL.Replace(strings.TrimSpace(n)), toURL.Replace(strings.TrimSpace(e))
	doc, err := json.Marshal(map[string]string{"kty": "RSA", "n": n, "e": e})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	k, err := parseJWK(doc, false)
	if err != nil {
		return nil, err
	}
	return &k, nil
}

func keyFromPublic(pub any) (*Key, error) {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSAPublicKey(p); err != nil {
			return nil, err
		}
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, fmt.Errorf("%w: EC curve %s", ErrUnsupportedAlgorithm, p.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: %T keys are not supported", ErrUnsupportedAlgorithm, pub)
	}
	return &Key{Public: pub}, nil
}

func keyFromPrivate(priv any) (*Key, error) {
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T keys are not supported", ErrUnsupportedAlgorithm, priv)
	}
	k, err := keyFromPublic(signer.Public())
	if err != nil {
		return nil, err
	}
	k.Private = priv
	return k, nil
}
