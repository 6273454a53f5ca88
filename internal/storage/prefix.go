package storage

import (
	"context"
	"strings"
)

// DeletePrefix deletes every object of bucket whose key is prefix or starts with prefix + "/" (a "directory"
// and what is in it; never a sibling such as prefix + "-old"), and returns how many it deleted.
func DeletePrefix(ctx context.Context, st Store, bucket, prefix string) (int, error) {
	prefix = strings.Trim(prefix, "/")
	var keys []string
	err := st.List(ctx, bucket, prefix, func(o Object) error {
		if prefix == "" || o.Key == prefix || strings.HasPrefix(o.Key, prefix+"/") {
			keys = append(keys, o.Key)
		}
		return nil
	})
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	if err := st.DeleteObjects(ctx, bucket, keys); err != nil {
		return 0, err
	}
	return len(keys), nil
}
