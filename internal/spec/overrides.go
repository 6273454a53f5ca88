package spec

// Overrides are task fields given on the command line (`--gpus`, `--cpus`, `-n`, ...). They win over the YAML,
// as in SkyPilot. A nil pointer leaves the field as the YAML has it; the string "none" resets it to unset.
type Overrides struct {
	Name         *string
	Workdir      *string
	NumNodes     *int
	Infra        *string // --infra, e.g. "aws/us-east-1", "k8s", "local"
	Accelerators *string // --gpus, e.g. "A100:8"
	Cpus         *string // --cpus, e.g. "4", "4+"
	Memory       *string // --memory, e.g. "16", "16+", "8x"
	InstanceType *string // -t/--instance-type
	UseSpot      *bool
	ImageID      *string
	DiskSize     *string // an integer in GB or a size with units
	DiskTier     *string
	NetworkTier  *string
	Ports        []string // --ports, each an int or a range "8000-8010"; replaces the YAML's ports when set
}

// IsZero reports whether no override is set.
func (o Overrides) IsZero() bool {
	return o.Name == nil && o.Workdir == nil && o.NumNodes == nil && o.Infra == nil && o.Accelerators == nil &&
		o.Cpus == nil && o.Memory == nil && o.InstanceType == nil && o.UseSpot == nil && o.ImageID == nil &&
		o.DiskSize == nil && o.DiskTier == nil && o.NetworkTier == nil && o.Ports == nil
}
