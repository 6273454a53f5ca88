package spec

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParseEnvFile reads a dotenv file for --env-file: KEY=VALUE lines, optionally prefixed with `export`; blank
// lines and # comments are skipped; values may be 'single-quoted' (taken literally), "double-quoted" (with \n,
// \t, \", \\ escapes, and may span lines) or bare (trimmed, and cut at " #"). ${VAR} is not expanded.
func ParseEnvFile(path string) (map[string]string, error) {
	data, err := ReadFileLimited("env file", path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return parseEnv(path, data)
}

func parseEnv(path string, data []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		key, val, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !ValidEnvName(key) {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE, found %q", path, lineNo, line)
		}
		val = strings.TrimSpace(val)
		start := lineNo
		switch {
		case strings.HasPrefix(val, "'"):
			end := strings.Index(val[1:], "'")
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated ' quote in %s", path, start, key)
			}
			val = val[1 : end+1]
		case strings.HasPrefix(val, `"`):
			body := val[1:]
			for !closedDoubleQuote(body) {
				if !sc.Scan() {
					return nil, fmt.Errorf("%s:%d: unterminated \" quote in %s", path, start, key)
				}
				lineNo++
				body += "\n" + sc.Text()
			}
			val = unescapeDouble(body[:closingQuote(body)])
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = strings.TrimSpace(val[:i])
			}
		}
		out[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env file %s: %w", path, err)
	}
	return out, nil
}

// closingQuote is the index of the first unescaped double quote in s, or -1.
func closingQuote(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func closedDoubleQuote(s string) bool { return closingQuote(s) >= 0 }

func unescapeDouble(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '"', '\\', '$':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
