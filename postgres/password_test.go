package postgres

import (
	"strings"
	"testing"
)

func TestPassword(t *testing.T) {
	h, err := hashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Format", func(t *testing.T) {
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Errorf("hash = %q, want PHC argon2id prefix", h)
		}
		if strings.Count(h, "$") != 5 {
			t.Errorf("hash = %q, want 6 $-separated parts", h)
		}
	})
	t.Run("Right", func(t *testing.T) {
		if ok, err := checkPassword(h, "correct horse battery"); err != nil || !ok {
			t.Errorf("checkPassword = %v, %v; want true", ok, err)
		}
	})
	t.Run("Wrong", func(t *testing.T) {
		if ok, err := checkPassword(h, "correct horse batterx"); err != nil || ok {
			t.Errorf("checkPassword = %v, %v; want false", ok, err)
		}
	})
	t.Run("Salted", func(t *testing.T) {
		h2, _ := hashPassword("correct horse battery")
		if h2 == h {
			t.Error("two hashes of one password are equal: no salt")
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=8,t=1,p=1$!!$aGFzaA"} {
			if ok, err := checkPassword(bad, "x"); err == nil || ok {
				t.Errorf("checkPassword(%q) = %v, %v; want error", bad, ok, err)
			}
		}
	})
}
