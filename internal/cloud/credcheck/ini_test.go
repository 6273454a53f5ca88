package credcheck

import "testing"

func TestParseINI(t *testing.T) {
	t.Parallel()
	f := ParseINI("\ufefftop = 1\n[a]\nKey = \"quoted # kept\"\nother = plain # comment\n  nested = x\n;c\n[b]\n[broken\nnoequals\n")
	checks := map[[2]string]string{
		{"", "top"}: "1", {"a", "key"}: "quoted # kept", {"a", "other"}: "plain", {"a", "nested"}: "",
	}
	for k, want := range checks {
		if got := f.Get(k[0], k[1]); got != want {
			t.Errorf("get(%q, %q) = %q, want %q", k[0], k[1], got, want)
		}
	}
	if !f.Has("b") || f.Has("broken") {
		t.Errorf("sections = %v", f.order)
	}
}

func FuzzParseINI(f *testing.F) {
	f.Add("[default]\naws_access_key_id = A\n")
	f.Add("[\n=\n'\n\"")
	f.Fuzz(func(t *testing.T, s string) {
		ParseINI(s) // must not panic
	})
}
