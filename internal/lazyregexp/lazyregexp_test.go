package lazyregexp

import "testing"

func TestCompiledOnFirstUse(t *testing.T) {
	t.Parallel()
	bad := New(`(`) // would panic at package init with regexp.MustCompile
	if bad.rx != nil {
		t.Fatal("compiled at New")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("an invalid pattern did not panic on first use")
			}
		}()
		bad.MatchString("x")
	}()
	r := New(`^a(b+)$`)
	if !r.MatchString("abb") || r.FindStringSubmatch("abb")[1] != "bb" || r.String() != `^a(b+)$` {
		t.Error("matching")
	}
	if got := New(`[-_]+`).Split("a-b__c", -1); len(got) != 3 {
		t.Errorf("Split: %q", got)
	}
}
