package spec

import (
	"reflect"
	"testing"
)

func TestTaskDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"one task", "run: echo hi\n", []string{"run: echo hi\n"}},
		{"pipeline with a name document", "name: p\n---\nname: a\nrun: echo a\n---\nrun: echo b\n",
			[]string{"name: a\nrun: echo a\n", "run: echo b\n"}},
		{"a lone name is a task", "name: only\n", []string{"name: only\n"}},
		{"empty documents skipped", "---\nrun: a\n---\n---\nrun: b\n", []string{"run: a\n", "run: b\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TaskDocuments(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("TaskDocuments(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	if _, err := TaskDocuments("run: [unclosed\n"); err == nil {
		t.Fatal("broken YAML: no error")
	}
}
