package pii

import (
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// stats is a cheap one-pass summary of a text used to skip detectors that
// cannot possibly match (the common case is "no PII at all").
type stats struct {
	digits int
	colons int
	at     bool
}

func computeStats(s string) stats {
	var st stats
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			st.digits++
		case c == ':':
			st.colons++
		case c == '@':
			st.at = true
		}
	}
	return st
}

type builtin struct {
	match  matcher
	need   func(stats) bool
	maxLen int // longest possible match in bytes
}

// Longest matches of built-in detectors (bytes).
const (
	maxEmailLocal  = 64
	maxEmailDomain = 63
	maxPhoneDigits = 15
	maxIPv6Len     = 45
)

var builtins = map[string]builtin{
	DetectorSSN:        {match: matchSSN, need: func(st stats) bool { return st.digits >= 9 }, maxLen: 11},
	DetectorEmail:      {match: matchEmail, need: func(st stats) bool { return st.at }, maxLen: maxEmailLocal + 1 + maxEmailDomain},
	DetectorPhone:      {match: matchPhone, need: func(st stats) bool { return st.digits >= 8 }, maxLen: 1 + maxPhoneDigits*3},
	DetectorCreditCard: {match: matchCard, need: func(st stats) bool { return st.digits >= 13 }, maxLen: 19 + 18},
	DetectorIBAN:       {match: matchIBAN, need: func(st stats) bool { return st.digits >= 2 }, maxLen: 34 + 8},
	DetectorIP:         {match: matchIP, need: func(st stats) bool { return st.digits >= 4 || st.colons >= 2 }, maxLen: maxIPv6Len},
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isUpper(c byte) bool      { return c >= 'A' && c <= 'Z' }
func isAlpha(c byte) bool      { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool      { return isDigit(c) || isAlpha(c) }
func isUpperAlnum(c byte) bool { return isDigit(c) || isUpper(c) }
func isHex(c byte) bool        { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// at returns s[i] or 0 when i is out of range.
func at(s string, i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

func digitsAt(s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return false
		}
	}
	return true
}

// numberStart reports whether a number may start at q: the previous byte is
// not alphanumeric and q does not continue a dashed/dotted digit sequence.
func numberStart(s string, q int) bool {
	p := at(s, q-1)
	if isAlnum(p) {
		return false
	}
	if (p == '-' || p == '.') && isDigit(at(s, q-2)) {
		return false
	}
	return true
}

// numberEnd reports whether a number may end at e: the next byte is not
// alphanumeric and does not continue a dashed/dotted digit sequence.
func numberEnd(s string, e int) bool {
	n := at(s, e)
	if isAlnum(n) {
		return false
	}
	if (n == '-' || n == '.') && isDigit(at(s, e+1)) {
		return false
	}
	return true
}

// ---- ssn ----

// matchSSN matches AAA-GG-SSSS or AAA GG SSSS (same separator twice) with
// area not 000, 666 or 9xx, group not 00, serial not 0000.
func matchSSN(s string, from int, _ stats) (int, int, bool) {
	for q := from; q+11 <= len(s); q++ {
		if !isDigit(s[q]) || !numberStart(s, q) {
			continue
		}
		sep := s[q+3]
		if (sep != '-' && sep != ' ') || s[q+6] != sep ||
			!digitsAt(s, q, 3) || !digitsAt(s, q+4, 2) || !digitsAt(s, q+7, 4) {
			continue
		}
		area, group, serial := s[q:q+3], s[q+4:q+6], s[q+7:q+11]
		if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
			continue
		}
		if !numberEnd(s, q+11) {
			continue
		}
		return q, q + 11, true
	}
	return 0, 0, false
}

// ---- email ----

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}
func isDomainChar(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

// matchEmail matches local@domain.tld with a local part of at most 64 bytes
// (longer runs are cut to their last 64 bytes) and a domain of at most 63
// bytes whose last label is at least two letters.
func matchEmail(s string, from int, _ stats) (int, int, bool) {
	for a := from; a < len(s); a++ {
		k := strings.IndexByte(s[a:], '@')
		if k < 0 {
			return 0, 0, false
		}
		a += k
		l := a
		for l > from && a-l < maxEmailLocal && isLocalChar(s[l-1]) {
			l--
		}
		for l < a && s[l] == '.' {
			l++
		}
		if l == a {
			continue
		}
		e := a + 1
		for e < len(s) && e-(a+1) <= maxEmailDomain && isDomainChar(s[e]) {
			e++
		}
		if e-(a+1) > maxEmailDomain {
			continue
		}
		for e > a+1 && (s[e-1] == '.' || s[e-1] == '-') {
			e--
		}
		if !validDomain(s[a+1 : e]) {
			continue
		}
		return l, e, true
	}
	return 0, 0, false
}

func validDomain(d string) bool {
	dot := strings.LastIndexByte(d, '.')
	if dot <= 0 || len(d)-dot-1 < 2 || !isAlnum(d[0]) || strings.Contains(d, "..") {
		return false
	}
	for i := dot + 1; i < len(d); i++ {
		if !isAlpha(d[i]) {
			return false
		}
	}
	return true
}

// ---- phone ----

// matchPhone matches international numbers (+ then 8–15 digits with optional
// spaces, dashes, dots or parentheses between them) and North American
// numbers: (555) 123-4567, (555)123-4567, 555-123-4567, 555.123.4567,
// 555 123 4567, optionally prefixed by "1-"/"1 "/"1.". Digit runs without
// separators are never phones (they look like order ids).
func matchPhone(s string, from int, _ stats) (int, int, bool) {
	for q := from; q < len(s); q++ {
		c := s[q]
		switch {
		case c == '+':
			if e, ok := phoneIntl(s, q); ok {
				return q, e, true
			}
		case c == '(':
			if q > 0 && isAlnum(s[q-1]) {
				continue
			}
			if e, ok := phoneParen(s, q); ok {
				return q, e, true
			}
		case isDigit(c):
			if !numberStart(s, q) || at(s, q-1) == '+' {
				continue
			}
			if c == '1' {
				if sep := at(s, q+1); sep == '-' || sep == ' ' || sep == '.' {
					if e, ok := phoneNANP(s, q+2); ok {
						return q, e, true
					}
				}
			}
			if e, ok := phoneNANP(s, q); ok {
				return q, e, true
			}
		}
	}
	return 0, 0, false
}

func isPhoneSep(c byte) bool { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' }

func phoneIntl(s string, q int) (int, bool) {
	if p := at(s, q-1); isAlnum(p) || p == '+' {
		return 0, false
	}
	pos, digits, end := q+1, 0, 0
	for pos < len(s) {
		c := s[pos]
		if isDigit(c) {
			digits++
			if digits > maxPhoneDigits {
				return 0, false
			}
			pos++
			end = pos
			continue
		}
		// Up to two separators, then a digit ("(", ") ", " (", "-").
		n := 0
		for n < 2 && isPhoneSep(at(s, pos+n)) {
			n++
		}
		if n == 0 || digits == 0 || !isDigit(at(s, pos+n)) {
			break
		}
		pos += n
	}
	if digits < 8 || isAlnum(at(s, end)) {
		return 0, false
	}
	return end, true
}

func phoneParen(s string, q int) (int, bool) {
	if !digitsAt(s, q+1, 3) || at(s, q+4) != ')' {
		return 0, false
	}
	p := q + 5
	if c := at(s, p); c == ' ' || c == '-' {
		p++
	}
	if !digitsAt(s, p, 3) {
		return 0, false
	}
	p += 3
	if c := at(s, p); c != '-' && c != ' ' && c != '.' {
		return 0, false
	}
	if !digitsAt(s, p+1, 4) || !numberEnd(s, p+5) {
		return 0, false
	}
	return p + 5, true
}

func phoneNANP(s string, p int) (int, bool) {
	if !digitsAt(s, p, 3) {
		return 0, false
	}
	sep := at(s, p+3)
	if sep != '-' && sep != ' ' && sep != '.' {
		return 0, false
	}
	if !digitsAt(s, p+4, 3) || at(s, p+7) != sep || !digitsAt(s, p+8, 4) || !numberEnd(s, p+12) {
		return 0, false
	}
	return p + 12, true
}

// ---- credit card ----

type boundary struct{ n, pos int }

// matchCard matches 13–19 digits, optionally grouped by single spaces or
// dashes, that pass the Luhn check. When a grouped run is longer than a
// card, the longest Luhn-valid prefix ending at a group boundary wins.
func matchCard(s string, from int, _ stats) (int, int, bool) {
	for q := from; q < len(s); q++ {
		if !isDigit(s[q]) || !numberStart(s, q) {
			continue
		}
		var bs [20]boundary
		nb, digits, pos, natural := 0, 0, q, false
	collect:
		for {
			for pos < len(s) && isDigit(s[pos]) {
				digits++
				pos++
				if digits > 19 {
					break collect
				}
			}
			bs[nb] = boundary{digits, pos}
			nb++
			if c := at(s, pos); (c == ' ' || c == '-') && isDigit(at(s, pos+1)) {
				pos++
				continue
			}
			natural = numberEnd(s, pos)
			break
		}
		for k := nb - 1; k >= 0; k-- {
			b := bs[k]
			if b.n < 13 || b.n > 19 || (k == nb-1 && !natural && b.pos == pos) {
				continue
			}
			if luhn(s[q:b.pos]) {
				return q, b.pos, true
			}
		}
	}
	return 0, 0, false
}

func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ---- iban ----

// matchIBAN matches two upper-case letters, two digits and up to 30
// upper-case alphanumerics (15–34 in total), either contiguous or in groups
// of four separated by single spaces, whose ISO 7064 mod-97 check is 1.
func matchIBAN(s string, from int, _ stats) (int, int, bool) {
	for q := from; q+15 <= len(s); q++ {
		if !isUpper(s[q]) || !isUpper(s[q+1]) || !isDigit(s[q+2]) || !isDigit(s[q+3]) || isAlnum(at(s, q-1)) {
			continue
		}
		var bs [10]boundary
		nb := 0
		pos, chars := q+4, 4
		if s[pos] == ' ' {
			for at(s, pos) == ' ' {
				k := 0
				for k < 5 && isUpperAlnum(at(s, pos+1+k)) {
					k++
				}
				if k == 0 || k > 4 || chars+k > 34 {
					break
				}
				pos += 1 + k
				chars += k
				if !isAlnum(at(s, pos)) {
					bs[nb] = boundary{chars, pos}
					nb++
				}
				if k < 4 {
					break
				}
			}
		} else {
			k := 0
			for k <= 30 && isUpperAlnum(at(s, pos+k)) {
				k++
			}
			if k <= 30 && !isAlnum(at(s, pos+k)) {
				bs[0] = boundary{4 + k, pos + k}
				nb = 1
			}
		}
		for k := nb - 1; k >= 0; k-- {
			if b := bs[k]; b.n >= 15 && mod97(s[q:b.pos]) {
				return q, b.pos, true
			}
		}
	}
	return 0, 0, false
}

func mod97(iban string) bool {
	r := 0
	add := func(c byte) {
		switch {
		case isDigit(c):
			r = (r*10 + int(c-'0')) % 97
		case isUpper(c):
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for i := 4; i < len(iban); i++ {
		add(iban[i])
	}
	for i := 0; i < 4; i++ {
		add(iban[i])
	}
	return r == 1
}

// ---- ip ----

// matchIP matches IPv4 dotted quads (octets 0–255 without leading zeros,
// not part of a longer dotted number such as 1.2.3.4.5, not glued to
// letters as in v1.2.3.4) and IPv6 addresses (tokens of hex digits, colons
// and dots with at least two colons that net/netip parses as IPv6).
func matchIP(s string, from int, st stats) (int, int, bool) {
	s4, e4, ok4 := 0, 0, false
	if st.digits >= 4 {
		s4, e4, ok4 = matchIPv4(s, from)
	}
	if st.colons < 2 {
		return s4, e4, ok4
	}
	limit := len(s)
	if ok4 {
		limit = s4 + 1 // only an earlier or equal start can win
	}
	s6, e6, ok6 := matchIPv6(s, from, limit)
	if ok6 && (!ok4 || s6 < s4 || (s6 == s4 && e6 > e4)) {
		return s6, e6, true
	}
	return s4, e4, ok4
}

func matchIPv4(s string, from int) (int, int, bool) {
	for q := from; q+7 <= len(s); q++ {
		if !isDigit(s[q]) || !numberStart(s, q) {
			continue
		}
		p := q
		ok := true
		for part := 0; part < 4 && ok; part++ {
			if part > 0 {
				if at(s, p) != '.' {
					ok = false
					break
				}
				p++
			}
			n, v := 0, 0
			for n < 4 && isDigit(at(s, p+n)) {
				v = v*10 + int(s[p+n]-'0')
				n++
			}
			if n == 0 || n > 3 || v > 255 || (n > 1 && s[p] == '0') {
				ok = false
				break
			}
			p += n
		}
		if ok && numberEnd(s, p) {
			return q, p, true
		}
	}
	return 0, 0, false
}

func isV6Char(c byte) bool { return isHex(c) || c == ':' || c == '.' }

func matchIPv6(s string, from, limit int) (int, int, bool) {
	for q := from; q < len(s) && q < limit; q++ {
		c := s[q]
		if !(isHex(c) || c == ':') {
			continue
		}
		if p := at(s, q-1); isV6Char(p) || isAlnum(p) {
			continue
		}
		e := q
		for e < len(s) && e-q <= maxIPv6Len && isV6Char(s[e]) {
			e++
		}
		if e-q > maxIPv6Len {
			continue
		}
		end := e
		for end > q && s[end-1] == '.' {
			end--
		}
		tok := s[q:end]
		if isAlnum(at(s, e)) || strings.Count(tok, ":") < 2 || !strings.ContainsFunc(tok, func(r rune) bool { return r < utf8.RuneSelf && isHex(byte(r)) }) {
			continue
		}
		if a, err := netip.ParseAddr(tok); err == nil && a.Is6() {
			return q, end, true
		}
	}
	return 0, 0, false
}

// ---- custom ----

func regexpMatcher(re *regexp.Regexp) matcher {
	return func(s string, from int, _ stats) (int, int, bool) {
		for from <= len(s) {
			loc := re.FindStringIndex(s[from:])
			if loc == nil {
				return 0, 0, false
			}
			if loc[1] > loc[0] {
				return from + loc[0], from + loc[1], true
			}
			// Empty match (e.g. a bare \b): look further.
			p := from + loc[1]
			if p >= len(s) {
				return 0, 0, false
			}
			_, size := utf8.DecodeRuneInString(s[p:])
			from = p + size
		}
		return 0, 0, false
	}
}
