package tarsync

import (
	"io/fs"
	"testing"
	"time"
)

// TestParseStat reads the lines GNU and busybox stat print for statFormat, and refuses what is not one.
func TestParseStat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want statInfo
	}{
		{"81a4 5 1700000000 ./a b.txt", statInfo{name: "./a b.txt", mode: 0o644, size: 5, mtime: time.Unix(1700000000, 0)}},
		{"41ed 4096 1700000001 ./dir", statInfo{name: "./dir", mode: fs.ModeDir | 0o755, size: 4096, mtime: time.Unix(1700000001, 0)}},
		{"a1ff 8 1700000002 ./link", statInfo{name: "./link", mode: fs.ModeSymlink | 0o777, size: 8, mtime: time.Unix(1700000002, 0)}},
		{"11a4 0 1700000003 ./fifo", statInfo{name: "./fifo", mode: fs.ModeIrregular | 0o644, mtime: time.Unix(1700000003, 0)}},
	} {
		got, err := parseStat(tc.line)
		if err != nil || got != tc.want {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "81a4 5 1700000000", "zz 5 1 ./x", "81a4 five 1 ./x", "81a4 5 noon ./x"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}
