package catalog

import (
	"fmt"
	"strings"
)

// images is a cloud's images.csv: SkyPilot's image tags ("skypilot:gpu-ubuntu-2204") per region.
type images struct {
	byTag map[string][]image
}

type image struct {
	region  string // empty: the image is global (GCP)
	id      string
	created string
}

func parseImages(file, data string) (*images, error) {
	r := newCSVReader(file, data)
	header, ok, err := r.Read()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &FileError{File: file, Msg: "file is empty (expected a header line)"}
	}
	cols := map[string]int{}
	for i, h := range header {
		cols[strings.ToLower(strings.TrimSpace(h))] = i
	}
	for _, need := range []string{"tag", "region", "imageid"} {
		if _, ok := cols[need]; !ok {
			return nil, r.errorf("header has no %s column", map[string]string{"tag": "Tag", "region": "Region", "imageid": "ImageId"}[need])
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := cols[name]; ok {
			return strings.Clone(strings.TrimSpace(rec[i]))
		}
		return ""
	}
	width := len(header)
	img := &images{byTag: map[string][]image{}}
	for {
		rec, ok, err := r.Read()
		if err != nil {
			return nil, err
		}
		if !ok {
			return img, nil
		}
		// SkyPilot's images.csv has rows without the trailing BaseImageId; like pandas, read missing trailing
		// fields as empty. More fields than the header is corruption.
		if len(rec) > width {
			return nil, r.errorf("has %d fields, the header has %d (file corrupted?)", len(rec), width)
		}
		for len(rec) < width {
			rec = append(rec, "")
		}
		tag := get(rec, "tag")
		img.byTag[tag] = append(img.byTag[tag], image{
			region: get(rec, "region"), id: get(rec, "imageid"), created: get(rec, "creationdate"),
		})
	}
}

// ImageID resolves a SkyPilot image tag ("skypilot:gpu-ubuntu-2204") to the cloud's image id in a region.
// Global images (an empty Region, as GCP's) serve every region. With region empty, the tag must name a single
// image. When several rows match, the newest (by CreationDate) wins.
func (c *Cloud) ImageID(tag, region string) (string, error) {
	if c.images == nil && c.imagesErr != nil {
		return "", c.imagesErr
	}
	if c.images == nil {
		return "", fmt.Errorf("%s has no image catalog (%s/images.csv)", c.traits.display, c.name)
	}
	var best *image
	var regions []string
	for i := range c.images.byTag[tag] {
		im := &c.images.byTag[tag][i]
		regions = append(regions, im.region)
		if region != "" && im.region != "" && !strings.EqualFold(im.region, region) {
			continue
		}
		if im.id == "" {
			continue
		}
		if best == nil || im.created > best.created {
			best = im
		}
	}
	switch {
	case best != nil && region == "" && len(regions) > 1 && best.region != "":
		return "", fmt.Errorf("image tag %q has images in several %s regions; give a region", tag, c.traits.display)
	case best != nil:
		return best.id, nil
	case len(regions) > 0:
		return "", fmt.Errorf("image tag %q has no %s image in region %s", tag, c.traits.display, region)
	}
	tags := sortedKeys(c.images.byTag)
	msg := fmt.Sprintf("unknown %s image tag %q", c.traits.display, tag)
	if s := closest(tag, tags, 3); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, ", "))
	}
	return "", fmt.Errorf("%s", msg)
}

// ImageTags lists the cloud's image tags, sorted.
func (c *Cloud) ImageTags() []string {
	if c.images == nil {
		return nil
	}
	return sortedKeys(c.images.byTag)
}
