package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/abi/guest"
)

// header is the JOSE header of every token, exactly as it is encoded.
const header = `{"alg":"HS256","typ":"JWT"}`

// b64 is the base64url alphabet without padding that JWS (RFC 7515) uses.
var b64 = base64.RawURLEncoding

// encodedHeader is header, base64url-encoded once.
var encodedHeader = b64.EncodeToString([]byte(header))

// token returns a signed JWT for the client whose values value reads: the
// fixed claims, sub (the client id, unless the config fixes sub or the
// client has none), iat and exp. {jwt} takes no argument.
func (s *settings) token(arg string, value valueFunc) (string, error) {
	if arg != "" {
		return "", fmt.Errorf("jwt: {jwt} takes no argument, got {jwt:%s}", arg)
	}
	if s.jwtKey == nil {
		return "", errors.New("jwt: {jwt} needs a key: set jwt.key or jwt.key_from " +
			"in the plugin's config")
	}
	key, err := s.jwtKey.get(value)
	if err != nil {
		return "", err
	}
	now := s.now()
	payload := make([]byte, 0, 64+len(s.claims))
	payload = append(payload, `{"iat":`...)
	payload = strconv.AppendInt(payload, now.Unix(), 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, now.Add(s.lifetime).Unix(), 10)
	if !s.fixedSub {
		switch sub, err := value(abi.ValueClientID); {
		case err == nil && sub != "":
			payload = appendMember(payload, "sub", nil)
			payload = appendString(payload, sub)
		case err != nil && !errors.Is(err, guest.ErrNotFound):
			return "", fmt.Errorf("jwt: reading the client id: %w", err)
		}
	}
	payload = append(payload, s.claims...)
	payload = append(payload, '}')

	var b strings.Builder
	b.Grow(len(encodedHeader) + 2 + b64.EncodedLen(len(payload)) + b64.EncodedLen(32))
	b.WriteString(encodedHeader)
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(b.String()))
	b.WriteByte('.')
	b.WriteString(b64.EncodeToString(mac.Sum(nil)))
	return b.String(), nil
}

// hmacFields are the client values {hmac:FIELD} can sign: the ones a
// server can check, and no secrets.
var hmacFields = []string{
	abi.ValueAPI, abi.ValueClientID, abi.ValueSessionID, abi.ValueChannel,
	abi.ValueVersion,
}

// hmac returns the hex HMAC-SHA256 of the client's value field, so that a
// server sharing the key can check the value came from this client.
func (s *settings) hmac(field string, value valueFunc) (string, error) {
	if field == "" {
		return "", fmt.Errorf("jwt: {hmac} needs a field, as in {hmac:client_id}; "+
			"one of %s", strings.Join(hmacFields, ", "))
	}
	if !slices.Contains(hmacFields, field) {
		return "", fmt.Errorf("jwt: {hmac:%s}: %s is not one of %s", field, field,
			strings.Join(hmacFields, ", "))
	}
	if s.hmacKey == nil {
		return "", errors.New("jwt: {hmac} needs a key: set hmac.key or hmac.key_from, " +
			"or jwt.key or jwt.key_from, in the plugin's config")
	}
	key, err := s.hmacKey.get(value)
	if err != nil {
		return "", err
	}
	v, err := value(field)
	if err != nil && !errors.Is(err, guest.ErrNotFound) {
		return "", fmt.Errorf("jwt: {hmac:%s}: reading the client's %s: %w",
			field, field, err)
	}
	if v == "" {
		return "", fmt.Errorf("jwt: {hmac:%s}: the client has no %s", field, field)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(v))
	return hex.EncodeToString(mac.Sum(nil)), nil
}
