package cli

import (
	"encoding/json"
	"io"
)

// ExportJSON writes v as indented JSON followed by a newline: the one format of every `-o json`.
func ExportJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
