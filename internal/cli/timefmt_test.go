package cli_test

import (
	"testing"
	"time"

	"github.com/stix-run/stix/internal/cli"
)

func TestRelativeTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{500 * time.Millisecond, "< 1 sec"},
		{3 * time.Second, "a few secs ago"},
		{42 * time.Second, "42 secs ago"},
		{time.Minute, "1 min ago"},
		{2*time.Minute + 59*time.Second, "2 mins ago"},
		{time.Hour, "1 hr ago"},
		{5*time.Hour + 30*time.Minute, "5 hrs ago"},
		{day, "1 day ago"},
		{3 * day, "3 days ago"},
		{8 * day, "1 week ago"},
		{45 * day, "1 month ago"},
		{800 * day, "2 years ago"},
		{-2 * time.Minute, "in 2 mins"},
	}
	for _, tt := range tests {
		if got := cli.RelativeTime(now, now.Add(-tt.ago)); got != tt.want {
			t.Errorf("RelativeTime(%v ago) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := cli.RelativeTime(now, time.Time{}); got != "-" {
		t.Errorf("zero time: got %q, want -", got)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "-"},
		{0, "< 1s"},
		{999 * time.Millisecond, "< 1s"},
		{5 * time.Second, "5s"},
		{65 * time.Second, "1m 5s"},
		{2*time.Hour + 3*time.Second, "2h 3s"},
		{26*time.Hour + 61*time.Second, "1d 2h 1m 1s"},
		{10 * 24 * time.Hour, "1w 3d"},
	}
	for _, tt := range tests {
		if got := cli.FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
