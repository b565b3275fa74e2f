package services

// Page is one page of a listing and the total number of matches.
type Page[T any] struct {
	Items  []T
	Total  int64
	Limit  int
	Offset int
	// TotalAtLeast: Total is a lower bound (a listing that stops counting at a bound).
	TotalAtLeast bool
	// MoreKnown: the listing looked one item past the page, and More says whether
	// another page follows in the direction of travel.
	MoreKnown, More bool
	// Keyset: the page was paged by cursor; Older and Newer say whether items lie beyond
	// its last and its first item.
	Keyset       bool
	Older, Newer bool
}

// HasMore reports whether another page follows.
func (p Page[T]) HasMore() bool {
	if p.MoreKnown {
		return p.More
	}
	return int64(p.Offset+len(p.Items)) < p.Total
}
