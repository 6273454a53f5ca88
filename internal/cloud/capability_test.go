package cloud

import (
	"maps"
	"testing"
)

func TestHeadEndpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		info *ClusterInfo
		want map[int]string
	}{
		{"external IP first", &ClusterInfo{Nodes: []NodeInfo{{InternalIP: "10.0.0.5", ExternalIP: "203.0.113.5"}, {ExternalIP: "203.0.113.6"}}},
			map[int]string{80: "203.0.113.5:80", 8080: "203.0.113.5:8080"}},
		{"internal IP without an external one", &ClusterInfo{Nodes: []NodeInfo{{InternalIP: "10.0.0.5"}}},
			map[int]string{80: "10.0.0.5:80", 8080: "10.0.0.5:8080"}},
		{"IPv6 in brackets", &ClusterInfo{Nodes: []NodeInfo{{ExternalIP: "2001:db8::5"}}},
			map[int]string{80: "[2001:db8::5]:80", 8080: "[2001:db8::5]:8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := HeadEndpoints(tt.info, []int{80, 8080})
			if err != nil || !maps.Equal(got, tt.want) {
				t.Errorf("HeadEndpoints = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	for _, info := range []*ClusterInfo{{Cloud: "x"}, {Cloud: "x", Nodes: []NodeInfo{{}}}} {
		if got, err := HeadEndpoints(info, []int{80}); err == nil {
			t.Errorf("HeadEndpoints(%+v) = %v; want an error: no head address", info, got)
		}
	}
}
