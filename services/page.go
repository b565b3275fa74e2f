package services

// Page is one page of a listing and the total number of matches.
type Page[T any] struct {
	Items  []T
	Total  int64
	Limit  int
	Offset int
	// Keyset, set by a listing paged by cursor: More is whether another page follows in
	// the direction of travel, Older and Newer whether items lie beyond the page's last
	// and first item.
	Keyset       bool
	More         bool
	Older, Newer bool
}

// HasMore reports whether another page follows.
func (p Page[T]) HasMore() bool {
	if p.Keyset {
		return p.More
	}
	return int64(p.Offset+len(p.Items)) < p.Total
}
