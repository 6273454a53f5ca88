package providers

import (
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	r, err := New(Config{Home: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Lookup("Local")
	if err != nil || p.Name() != "local" {
		t.Fatalf("Lookup(Local) = %v, %v", p, err)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a home: want an error")
	}
}
