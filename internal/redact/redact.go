// Package redact keeps secrets, tokens, links and images out of what the
// module prints and logs of what others sent it: vendors' answers and
// error messages. It knows nothing of Caddy or the vendors.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of what Body prints.
const (
	MaxJSON  = 2048 // a redacted JSON body, in bytes
	MaxText  = 200  // a body that is not JSON, in bytes
	maxValue = 512  // one JSON string value; longer ones are omitted
)

// Printable keeps a line to itself: text with control characters or
// invalid UTF-8 is quoted.
func Printable(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
		return strconv.QuoteToGraphic(s)
	}
	return s
}

// What is redacted.
var (
	// A link, with or without its scheme ("://host" is one too).
	urlPattern = regexp.MustCompile(`(?i)[a-z0-9+.-]*://[^\s"'<>]*`)
	// Three base64url parts separated by dots: a JWT's header starts with
	// "eyJ" ({"), and its signature may be empty (alg none); without eyJ,
	// every part must be long enough not to be a host name or a version.
	jwtPattern     = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)
	dataURIPattern = regexp.MustCompile(`(?i)data:[a-z0-9.+/-]*(;[^,;\s]*)*;base64,[A-Za-z0-9+/=_-]*`)
	keyNormalizer  = strings.NewReplacer("_", "", "-", "", ".", "")
)

// SecretKey reports whether a JSON key holds a secret, a token or a
// proof link: token, access_token, client_secret, api_key, apikey,
// secret, authorization, declined_proof, and their variants
// (case, - or _, refresh_token, x-api-key, clientSecret...).
func SecretKey(k string) bool {
	n := strings.ToLower(keyNormalizer.Replace(k))
	if n == "authorization" || strings.HasSuffix(n, "token") {
		return true
	}
	for _, s := range []string{"secret", "apikey", "password", "proof", "credential"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Links replaces every link in s (any scheme, or none: "://host") with
// repl.
func Links(s, repl string) string { return urlPattern.ReplaceAllString(s, repl) }

// Text replaces URLs, JWTs and base64 data URIs in s.
func Text(s string) string {
	s = dataURIPattern.ReplaceAllString(s, "[redacted-data-uri]")
	s = urlPattern.ReplaceAllString(s, "[redacted-url]")
	return jwtPattern.ReplaceAllString(s, "[redacted-jwt]")
}

// Body renders a vendor's answer for printing. JSON is written
// compact, keys in order, with the values of secret keys replaced, URLs,
// JWTs and data URIs redacted within strings and long strings omitted,
// cut to 2 KB. Anything else is redacted the same way, made printable and
// cut to 200 bytes.
func Body(raw []byte) string {
	if s, ok := redactJSON(raw); ok {
		return Truncate(s, MaxJSON)
	}
	s := Text(string(raw))
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (!unicode.IsPrint(r) && r != ' ') {
			return '.'
		}
		return r
	}, s)
	return Truncate(s, MaxText)
}

// Truncate cuts s to at most n bytes (on a rune boundary), saying how
// long it was.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("...[truncated, %d bytes]", len(s))
}

func redactJSON(raw []byte) (string, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var b bytes.Buffer
	if err := redactValue(dec, &b, false); err != nil {
		return "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", false
	}
	return b.String(), true
}

// redactValue copies one JSON value from dec to b; secret: the value
// (and all it holds) belongs to a secret key.
func redactValue(dec *json.Decoder, b *bytes.Buffer, secret bool) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		open, end := byte(t), byte('}')
		if t == '[' {
			end = ']'
		} else if t != '{' {
			return fmt.Errorf("unexpected %v", t)
		}
		b.WriteByte(open)
		for first := true; dec.More(); first = false {
			if !first {
				b.WriteByte(',')
			}
			inner := secret
			if open == '{' {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k, ok := kt.(string)
				if !ok {
					return fmt.Errorf("object key %v", kt)
				}
				writeJSONString(b, Text(k))
				b.WriteByte(':')
				inner = secret || SecretKey(k)
			}
			if err := redactValue(dec, b, inner); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		b.WriteByte(end)
	case string:
		switch {
		case secret && t != "":
			t = "[redacted]"
		case len(t) > maxValue:
			t = fmt.Sprintf("[omitted, %d bytes]", len(t))
		default:
			t = Text(t)
		}
		writeJSONString(b, t)
	case json.Number:
		if secret {
			writeJSONString(b, "[redacted]")
		} else {
			b.WriteString(t.String())
		}
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("unexpected token %T", tok)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Write(bytes.TrimRight(tmp.Bytes(), "\n"))
}
