package jsonlex

import "testing"

// TestSkipPlain checks the eight-bytes-at-a-time scan against the plain
// definition: every byte value, at every lane, after every other value.
func TestSkipPlain(t *testing.T) {
	naive := func(b []byte, i int) int {
		for i < len(b) && plainASCII[b[i]] {
			i++
		}
		return i
	}
	b := make([]byte, 20)
	for c := range 256 {
		for prev := range 256 {
			for p := 1; p < len(b); p++ {
				for i := range b {
					b[i] = 'a'
				}
				b[p-1], b[p] = byte(prev), byte(c)
				for _, start := range []int{0, 1, 3} {
					for _, n := range []int{len(b), p + 1, p} {
						if got, want := skipPlain(b[:n], start), naive(b[:n], start); got != want {
							t.Fatalf("skipPlain(%q, %d) = %d, want %d", b[:n], start, got, want)
						}
					}
				}
			}
		}
	}
}

// TestLexemes: what each function accepts and where it says the error is.
func TestLexemes(t *testing.T) {
	for _, tc := range []struct {
		in       string
		num, str int // Number's and String's results at offset 0
		verbatim bool
	}{
		{`0`, 1, ^0, false},
		{`-12.5e+3,`, 8, ^0, false},
		{`01`, 1, ^0, false},
		{`1.`, ^2, ^0, false},
		{`-`, ^1, ^0, false},
		{`1e`, ^2, ^0, false},
		{`"abc"`, ^0, 5, true},
		{`"a\"b"x`, ^0, 6, false},
		{`"\u00e9\ud83d\ude00"`, ^0, 20, false},
		{`"\ud83d"`, ^0, ^1, false},
		{`"\x"`, ^0, ^1, false},
		{"\"a\x01\"", ^0, ^2, false},
		{"\"\xff\"", ^0, ^1, false},
		{`"open`, ^0, ^5, false},
		{`"é"`, ^0, 4, true},
	} {
		if got := Number([]byte(tc.in), 0); got != tc.num {
			t.Errorf("Number(%q) = %d, want %d", tc.in, got, tc.num)
		}
		if tc.in[0] != '"' {
			continue
		}
		got, verbatim := String([]byte(tc.in), 0)
		if got != tc.str || (got >= 0 && verbatim != tc.verbatim) {
			t.Errorf("String(%q) = %d, %v, want %d, %v", tc.in, got, verbatim, tc.str, tc.verbatim)
		}
	}
	if got := SkipSpace([]byte(" \t\r\n x"), 0); got != 5 {
		t.Errorf("SkipSpace = %d, want 5", got)
	}
	if r, ok := Hex4([]byte("00E9")); !ok || r != 0xe9 {
		t.Errorf("Hex4 = %x, %v", r, ok)
	}
}
